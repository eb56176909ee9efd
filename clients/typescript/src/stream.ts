// A server stream read as an async iterable, started at once (so that its errors are never
// unhandled) and cancelled on the server whenever its reader stops early.
import { toCantataError } from "./errors.js";

export abstract class CallStream<Message, Item> {
  /** The id the server logs this call under, once its response headers have arrived. */
  requestId: string | undefined;
  protected readonly controller = new AbortController();
  private readonly responses: AsyncIterator<Message>;
  private readonly first: Promise<IteratorResult<Message>>;
  private iterated = false;
  private stopped = false;

  protected constructor(
    open: (signal: AbortSignal, onRequestId: (id: string) => void) => AsyncIterable<Message>,
    private readonly sentRequestId: string | undefined,
  ) {
    this.responses = open(this.controller.signal, (id) => {
      this.requestId = id;
    })[Symbol.asyncIterator]();
    this.first = this.responses.next();
    // Read later by the iterator; until then a failure must not count as unhandled.
    this.first.catch(() => undefined);
  }

  /** The item a response carries, or undefined for a response only kept as state. */
  protected abstract absorb(message: Message): Item | undefined;

  /** Ends the call at once on both sides; iteration then ends without an error. */
  protected stop(): void {
    this.stopped = true;
    this.controller.abort();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Item, void, undefined> {
    if (this.iterated) throw new Error("a stream can be iterated once");
    this.iterated = true;
    let finished = false;
    try {
      for (let next = this.first; ; next = this.responses.next()) {
        const result = await next;
        if (result.done) {
          finished = true;
          return;
        }
        const item = this.absorb(result.value);
        if (item !== undefined) yield item;
      }
    } catch (error) {
      finished = true;
      if (this.stopped) return;
      throw toCantataError(error, this.requestId ?? this.sentRequestId);
    } finally {
      // A reader that breaks out early: stop the synthesis on the server too.
      if (!finished) this.controller.abort();
    }
  }
}
