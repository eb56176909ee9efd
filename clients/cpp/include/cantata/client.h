// The C++ client of Cantata's text-to-speech gRPC contract (protos/cantata/tts/v1/tts.proto).
//
//   cantata::Client client("127.0.0.1:50051");
//   cantata::Synthesis hello = client.Synthesize("Hello there.");   // WAV by default
//
// Options are named as in the proto. Every call throws cantata::Error when the server (or the
// channel) answers with a status other than OK. This header includes no gRPC or protobuf
// headers: the generated code stays inside the library.
#ifndef CANTATA_CLIENT_H_
#define CANTATA_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace cantata {

// gRPC status codes, with the numbers gRPC gives them.
enum class StatusCode {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// "INVALID_ARGUMENT", as gRPC spells the code.
const char* StatusCodeName(StatusCode code);

// A call that ended with a status other than OK: what() is "CODE: message".
class Error : public std::runtime_error {
 public:
  Error(StatusCode code, std::string message, std::string request_id);
  StatusCode code() const { return code_; }
  // The server's message (for INVALID_ARGUMENT it names the field).
  const std::string& message() const { return message_; }
  // The request id the server answered with (x-request-id), else the one sent; may be empty
  // when the call never reached the service (an unreachable server, a rejected key).
  const std::string& request_id() const { return request_id_; }

 private:
  StatusCode code_;
  std::string message_;
  std::string request_id_;
};

enum class Encoding {
  kPcm,      // signed 16-bit little-endian mono samples, no header
  kWav,      // RIFF WAVE; a stream's header carries the streaming sizes 0xFFFFFFFF
  kFlac,     // in a stream the whole file comes in the last chunk
  kOggOpus,  // 8000, 12000, 16000, 24000 or 48000 Hz (48000 when sample_rate_hz is 0)
  kMp3,
  kMulaw,  // G.711, 8000 Hz when sample_rate_hz is 0
  kAlaw,
};

// Parameters for models that sample; each voice lists the ones it honours
// (VoiceCapabilities::sampling_params) and setting any other is INVALID_ARGUMENT.
struct SamplingParams {
  std::optional<float> temperature;
  std::optional<float> top_p;
  std::optional<int32_t> top_k;
  std::optional<float> cfg_scale;
  std::optional<uint64_t> seed;
  std::optional<float> max_audio_seconds;
  std::optional<int32_t> steps;
};

// Which timing marks to receive with the audio (voices whose capabilities say timing).
struct TimingOptions {
  bool words = false;
  bool phonemes = false;
  bool visemes = false;
};

// What to say it with. Empty or zero fields mean the server's defaults.
struct SynthesizeOptions {
  std::string model;
  std::string voice;
  std::string speaker;
  Encoding encoding = Encoding::kWav;
  int32_t sample_rate_hz = 0;  // 8000-48000; 0: the voice's own rate
  float speed = 0;             // 0.5-2.0; 0: 1.0
  SamplingParams sampling;
  std::string prompt_audio;  // bytes of a recording to clone, for models that clone voices
  std::string prompt_text;   // the words spoken in prompt_audio
  std::string instructions;  // how to speak, for voices whose capabilities say instructions
  TimingOptions timing;

  // The call's deadline, counted from its start; unset: the client's default (if any).
  std::optional<std::chrono::milliseconds> timeout;
  // Sent as x-request-id; the server uses it in its logs and stats when it is a sane token.
  std::string request_id;
};

struct AudioInfo {
  int32_t sample_rate_hz = 0;
  int32_t channels = 0;
  Encoding encoding = Encoding::kPcm;
  double duration_seconds = 0;  // 0 in a stream (not known yet)
};

struct SynthesisStats {
  double audio_seconds = 0;
  double compute_seconds = 0;
  double real_time_factor = 0;  // compute / audio: below 1 is faster than real time
  std::string model;
  std::string runtime;
  std::string device;
  std::string request_id;
  double time_to_first_audio_seconds = 0;  // streams only
  std::string voice;
};

enum class MarkKind { kWord, kPhoneme, kViseme };

// A word (as written), phoneme (IPA) or viseme (sil PP FF TH DD kk CH SS nn RR aa E ih oh ou):
// seconds into the audio, and Unicode code points into the text as sent.
struct Mark {
  MarkKind kind = MarkKind::kWord;
  std::string value;
  double start_seconds = 0;
  double end_seconds = 0;
  uint32_t text_offset = 0;
  uint32_t text_length = 0;
};

struct Synthesis {
  std::string audio;  // the encoded file (bytes)
  AudioInfo info;
  SynthesisStats stats;
  std::vector<Mark> marks;  // those SynthesizeOptions::timing asked for
  std::string request_id;   // the server's x-request-id
};

struct VoiceCapabilities {
  bool streaming = false;
  bool voice_cloning = false;
  std::vector<std::string> sampling_params;
  std::vector<std::string> nonverbal_tags;
  bool dialogue = false;
  bool speed = false;
  bool instructions = false;
  bool timing = false;
};

struct Voice {
  std::string model;
  std::string voice_id;
  std::string language;  // BCP 47
  int32_t native_sample_rate_hz = 0;
  std::string runtime;
  std::vector<std::string> speakers;
  VoiceCapabilities capabilities;
  bool is_default = false;
};

// Streamed synthesis: `while (stream.Read(chunk)) ...`. info() is known before the first chunk
// (it waits for the server's first message), stats() once Read has returned false.
// Cancel() stops the synthesis on the server; Read then returns false.
// One thread reads; Cancel() may come from any thread.
class AudioStream {
 public:
  AudioStream(AudioStream&&) noexcept;
  AudioStream& operator=(AudioStream&&) noexcept;
  ~AudioStream();  // cancels the call if it has not ended

  // The next audio chunk; false once the stream has ended. Throws cantata::Error.
  bool Read(std::string& chunk);
  const AudioInfo& info();
  // Set once Read has returned false after a complete stream.
  const std::optional<SynthesisStats>& stats() const;
  // Timing marks received so far: each one before the chunk holding its audio is returned.
  const std::vector<Mark>& marks() const;
  // The server's x-request-id (known with info()).
  const std::string& request_id();
  void Cancel();

 private:
  friend class Client;
  struct Impl;
  explicit AudioStream(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Events of a live session, in the order the server sends them.
struct LiveAudio {
  std::string audio;
};
// Offsets count code points of every text sent on the session joined; times are seconds of
// every audio chunk joined.
struct LiveMarks {
  std::vector<Mark> marks;
};
// The text up to text_offset has been spoken; audio_seconds were sent in all.
struct LiveFlushed {
  uint32_t text_offset = 0;
  double audio_seconds = 0;
};
// Speech stopped: the text before text_offset was heard; the rest was dropped.
struct LiveCancelled {
  uint32_t text_offset = 0;
  double audio_seconds = 0;
  double utterance_audio_seconds = 0;
};
using LiveEvent = std::variant<LiveAudio, LiveMarks, LiveFlushed, LiveCancelled>;

struct LiveOptions : SynthesizeOptions {
  // A piece without a sentence end is cut at its last clause break once this many characters
  // are buffered; 0: the server's default (60).
  uint32_t min_clause_chars = 0;
  // ... or once the newest text has waited this long; 0: the server's default (400 ms).
  uint32_t max_wait_ms = 0;
};

// A live session: text that arrives while it is spoken (a language model's reply).
// Send(), Flush(), Cancel() and Close() may be called from any thread while one thread reads
// events with `while (live.Read(event))`. info() is set with the first event, stats() once
// Read has returned false after Close().
class LiveSession {
 public:
  LiveSession(LiveSession&&) noexcept;
  LiveSession& operator=(LiveSession&&) noexcept;
  ~LiveSession();  // aborts the session if it has not ended

  // More text: a delta, split anywhere. Returns false if the session has already ended.
  bool Send(const std::string& text);
  // Speak what is buffered now; answered by LiveFlushed.
  bool Flush();
  // Barge-in: stop speaking and drop the text not yet spoken; answered by LiveCancelled.
  bool Cancel();
  // No more text: what is buffered is spoken, then the events end (with stats()).
  void Close();
  // Ends the session at once, on both sides; Read then returns false.
  void Abort();

  // The next event; false once the session has ended. Throws cantata::Error.
  bool Read(LiveEvent& event);
  const std::optional<AudioInfo>& info() const;
  const std::optional<SynthesisStats>& stats() const;
  const std::string& request_id() const;

 private:
  friend class Client;
  struct Impl;
  explicit LiveSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct ClientOptions {
  // PEM file of the CA that signed the server's certificate; setting it turns TLS on.
  std::string tls_ca_file;
  // TLS with the system's roots when no CA file is given.
  bool tls = false;
  // Sent as `authorization: Bearer KEY` with every call.
  std::string api_key;
  // The deadline of every call that sets no timeout of its own.
  std::optional<std::chrono::milliseconds> timeout;
  // More metadata sent with every call.
  std::vector<std::pair<std::string, std::string>> metadata;
};

// A channel to one server. Thread-safe: calls may run from many threads at once.
class Client {
 public:
  explicit Client(const std::string& target = "127.0.0.1:50051", ClientOptions options = {});
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;

  // The whole text as one encoded file.
  Synthesis Synthesize(const std::string& text, const SynthesizeOptions& options = {});
  // Audio as it is produced. The call starts now; errors surface from Read() or info().
  AudioStream Stream(const std::string& text, const SynthesizeOptions& options = {});
  // Every voice of every loaded model, or of one model.
  std::vector<Voice> Voices(const std::string& model = "",
                            std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  // A live session; the options are those of Synthesize without text, and its timeout bounds
  // the whole session.
  LiveSession Live(const LiveOptions& options = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cantata

#endif  // CANTATA_CLIENT_H_
