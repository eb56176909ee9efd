// The typed layer over the generated gRPC code: proto <-> plain structs, call options, errors.
//
// The generated sources are compiled inside this translation unit (see CMakeLists.txt): the
// gRPC and protobuf headers, most of the build's time, are then parsed once.
#include "cantata/client.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <deque>
#include <fstream>
#include <mutex>
#include <sstream>

#include "cantata/tts/v1/tts.grpc.pb.cc"  // NOLINT(build/include)
#include "cantata/tts/v1/tts.pb.cc"       // NOLINT(build/include)

namespace cantata {
namespace pb = ::cantata::tts::v1;

namespace {

constexpr char kRequestIdKey[] = "x-request-id";

const char* const kCodeNames[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

pb::AudioEncoding ToProto(Encoding encoding) {
  switch (encoding) {
    case Encoding::kPcm: return pb::AUDIO_ENCODING_PCM_S16LE;
    case Encoding::kWav: return pb::AUDIO_ENCODING_WAV;
    case Encoding::kFlac: return pb::AUDIO_ENCODING_FLAC;
    case Encoding::kOggOpus: return pb::AUDIO_ENCODING_OGG_OPUS;
    case Encoding::kMp3: return pb::AUDIO_ENCODING_MP3;
    case Encoding::kMulaw: return pb::AUDIO_ENCODING_MULAW;
    case Encoding::kAlaw: return pb::AUDIO_ENCODING_ALAW;
  }
  return pb::AUDIO_ENCODING_UNSPECIFIED;
}

Encoding FromProto(pb::AudioEncoding encoding) {
  switch (encoding) {
    case pb::AUDIO_ENCODING_WAV: return Encoding::kWav;
    case pb::AUDIO_ENCODING_FLAC: return Encoding::kFlac;
    case pb::AUDIO_ENCODING_OGG_OPUS: return Encoding::kOggOpus;
    case pb::AUDIO_ENCODING_MP3: return Encoding::kMp3;
    case pb::AUDIO_ENCODING_MULAW: return Encoding::kMulaw;
    case pb::AUDIO_ENCODING_ALAW: return Encoding::kAlaw;
    default: return Encoding::kPcm;
  }
}

pb::SynthesizeRequest ToProto(const std::string& text, const SynthesizeOptions& options) {
  pb::SynthesizeRequest request;
  request.set_text(text);
  request.set_model(options.model);
  request.set_voice(options.voice);
  request.set_speaker(options.speaker);
  request.set_encoding(ToProto(options.encoding));
  request.set_sample_rate_hz(options.sample_rate_hz);
  request.set_speed(options.speed);
  const SamplingParams& sampling = options.sampling;
  pb::SamplingParams* out = request.mutable_sampling();
  if (sampling.temperature) out->set_temperature(*sampling.temperature);
  if (sampling.top_p) out->set_top_p(*sampling.top_p);
  if (sampling.top_k) out->set_top_k(*sampling.top_k);
  if (sampling.cfg_scale) out->set_cfg_scale(*sampling.cfg_scale);
  if (sampling.seed) out->set_seed(*sampling.seed);
  if (sampling.max_audio_seconds) out->set_max_audio_seconds(*sampling.max_audio_seconds);
  if (sampling.steps) out->set_steps(*sampling.steps);
  request.set_prompt_audio(options.prompt_audio);
  request.set_prompt_text(options.prompt_text);
  request.set_instructions(options.instructions);
  const TimingOptions& timing = options.timing;
  if (timing.words || timing.phonemes || timing.visemes) {
    request.mutable_timing()->set_words(timing.words);
    request.mutable_timing()->set_phonemes(timing.phonemes);
    request.mutable_timing()->set_visemes(timing.visemes);
  }
  return request;
}

AudioInfo FromProto(const pb::AudioInfo& info) {
  return {info.sample_rate_hz(), info.channels(), FromProto(info.encoding()),
          info.duration_seconds()};
}

SynthesisStats FromProto(const pb::SynthesisStats& stats) {
  return {stats.audio_seconds(),
          stats.compute_seconds(),
          stats.real_time_factor(),
          stats.model(),
          stats.runtime(),
          stats.device(),
          stats.request_id(),
          stats.time_to_first_audio_seconds(),
          stats.voice()};
}

// The marks of kinds this client knows (a newer server may send more).
void AppendMarks(const google::protobuf::RepeatedPtrField<pb::TimingMark>& marks,
                 std::vector<Mark>& out) {
  for (const pb::TimingMark& mark : marks) {
    MarkKind kind;
    switch (mark.kind()) {
      case pb::TIMING_MARK_KIND_WORD: kind = MarkKind::kWord; break;
      case pb::TIMING_MARK_KIND_PHONEME: kind = MarkKind::kPhoneme; break;
      case pb::TIMING_MARK_KIND_VISEME: kind = MarkKind::kViseme; break;
      default: continue;
    }
    out.push_back({kind, mark.value(), mark.start_seconds(), mark.end_seconds(), mark.text_offset(),
                   mark.text_length()});
  }
}

Voice FromProto(const pb::Voice& voice) {
  const pb::VoiceCapabilities& caps = voice.capabilities();
  VoiceCapabilities capabilities{caps.streaming(),
                                 caps.voice_cloning(),
                                 {caps.sampling_params().begin(), caps.sampling_params().end()},
                                 {caps.nonverbal_tags().begin(), caps.nonverbal_tags().end()},
                                 caps.dialogue(),
                                 caps.speed(),
                                 caps.instructions(),
                                 caps.timing()};
  return {voice.model(),           voice.voice_id(),
          voice.language(),        voice.native_sample_rate_hz(),
          voice.runtime(),         {voice.speakers().begin(), voice.speakers().end()},
          std::move(capabilities), voice.is_default()};
}

// The x-request-id the server answered with (initial metadata), if it has arrived.
std::string ServerRequestId(const grpc::ClientContext& context) {
  const auto& metadata = context.GetServerInitialMetadata();
  auto found = metadata.find(kRequestIdKey);
  return found == metadata.end() ? std::string()
                                 : std::string(found->second.data(), found->second.size());
}

Error ErrorOf(const grpc::Status& status, const std::string& request_id) {
  return Error(static_cast<StatusCode>(status.error_code()), status.error_message(), request_id);
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error("cantata: cannot read " + path);
  std::ostringstream content;
  content << file.rdbuf();
  return content.str();
}

}  // namespace

const char* StatusCodeName(StatusCode code) {
  auto index = static_cast<size_t>(code);
  return index < sizeof(kCodeNames) / sizeof(kCodeNames[0]) ? kCodeNames[index] : "UNKNOWN";
}

Error::Error(StatusCode code, std::string message, std::string request_id)
    : std::runtime_error(std::string(StatusCodeName(code)) + ": " + message),
      code_(code),
      message_(std::move(message)),
      request_id_(std::move(request_id)) {}

// --- Client ---------------------------------------------------------------------------------

struct Client::Impl {
  ClientOptions options;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::TextToSpeech::Stub> stub;

  // Deadline, key, metadata and request id of one call; returns the request id sent.
  void Prepare(grpc::ClientContext& context, std::optional<std::chrono::milliseconds> timeout,
               const std::string& request_id) const {
    if (auto limit = timeout ? timeout : options.timeout) {
      context.set_deadline(std::chrono::system_clock::now() + *limit);
    }
    if (!options.api_key.empty()) context.AddMetadata("authorization", "Bearer " + options.api_key);
    for (const auto& [key, value] : options.metadata) context.AddMetadata(key, value);
    if (!request_id.empty()) context.AddMetadata(kRequestIdKey, request_id);
  }
};

Client::Client(const std::string& target, ClientOptions options) : impl_(new Impl) {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (!options.tls_ca_file.empty() || options.tls) {
    grpc::SslCredentialsOptions ssl;
    if (!options.tls_ca_file.empty()) ssl.pem_root_certs = ReadFile(options.tls_ca_file);
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments arguments;
  // The server bounds what it sends (max_message_bytes); a whole file can pass 4 MiB.
  arguments.SetMaxReceiveMessageSize(-1);
  impl_->options = std::move(options);
  impl_->channel = grpc::CreateCustomChannel(target, credentials, arguments);
  impl_->stub = pb::TextToSpeech::NewStub(impl_->channel);
}

Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

Synthesis Client::Synthesize(const std::string& text, const SynthesizeOptions& options) {
  grpc::ClientContext context;
  impl_->Prepare(context, options.timeout, options.request_id);
  pb::SynthesizeResponse response;
  grpc::Status status = impl_->stub->Synthesize(&context, ToProto(text, options), &response);
  std::string request_id = ServerRequestId(context);
  if (request_id.empty()) request_id = options.request_id;
  if (!status.ok()) throw ErrorOf(status, request_id);
  Synthesis synthesis;
  synthesis.audio = std::move(*response.mutable_audio());
  synthesis.info = FromProto(response.info());
  synthesis.stats = FromProto(response.stats());
  AppendMarks(response.marks(), synthesis.marks);
  synthesis.request_id = std::move(request_id);
  return synthesis;
}

std::vector<Voice> Client::Voices(const std::string& model,
                                  std::optional<std::chrono::milliseconds> timeout) {
  grpc::ClientContext context;
  impl_->Prepare(context, timeout, "");
  pb::ListVoicesRequest request;
  request.set_model(model);
  pb::ListVoicesResponse response;
  grpc::Status status = impl_->stub->ListVoices(&context, request, &response);
  if (!status.ok()) throw ErrorOf(status, ServerRequestId(context));
  std::vector<Voice> voices;
  for (const pb::Voice& voice : response.voices()) voices.push_back(FromProto(voice));
  return voices;
}

// --- AudioStream ----------------------------------------------------------------------------

struct AudioStream::Impl {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<pb::SynthesizeStreamResponse>> reader;
  std::string sent_request_id;
  std::string request_id;
  AudioInfo info;
  bool has_info = false;
  std::optional<SynthesisStats> stats;
  std::vector<Mark> marks;
  std::deque<std::string> pending;  // audio read while waiting for info
  bool ended = false;
  std::atomic<bool> cancelled{false};

  ~Impl() {
    if (ended) return;
    context.TryCancel();
    pb::SynthesizeStreamResponse ignored;
    while (reader->Read(&ignored)) {
    }
    reader->Finish();
  }

  // Reads and keeps one message; false once the stream has ended.
  bool Next() {
    if (ended) return false;
    pb::SynthesizeStreamResponse message;
    if (reader->Read(&message)) {
      if (request_id.empty()) request_id = ServerRequestId(context);
      if (message.has_info()) {
        info = FromProto(message.info());
        has_info = true;
      }
      if (message.has_stats()) stats = FromProto(message.stats());
      AppendMarks(message.marks(), marks);
      if (!message.audio().empty()) pending.push_back(std::move(*message.mutable_audio()));
      return true;
    }
    ended = true;
    grpc::Status status = reader->Finish();
    if (request_id.empty()) request_id = ServerRequestId(context);
    if (status.ok() || (cancelled && status.error_code() == grpc::StatusCode::CANCELLED)) {
      return false;
    }
    throw ErrorOf(status, request_id.empty() ? sent_request_id : request_id);
  }
};

AudioStream Client::Stream(const std::string& text, const SynthesizeOptions& options) {
  auto impl = std::make_unique<AudioStream::Impl>();
  impl_->Prepare(impl->context, options.timeout, options.request_id);
  impl->sent_request_id = options.request_id;
  impl->reader = impl_->stub->StreamSynthesize(&impl->context, ToProto(text, options));
  return AudioStream(std::move(impl));
}

AudioStream::AudioStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AudioStream::AudioStream(AudioStream&&) noexcept = default;
AudioStream& AudioStream::operator=(AudioStream&&) noexcept = default;
AudioStream::~AudioStream() = default;

bool AudioStream::Read(std::string& chunk) {
  if (impl_->cancelled) return false;
  while (impl_->pending.empty()) {
    if (!impl_->Next()) return false;
  }
  chunk = std::move(impl_->pending.front());
  impl_->pending.pop_front();
  return true;
}

const AudioInfo& AudioStream::info() {
  while (!impl_->has_info && impl_->Next()) {
  }
  return impl_->info;
}

const std::optional<SynthesisStats>& AudioStream::stats() const { return impl_->stats; }
const std::vector<Mark>& AudioStream::marks() const { return impl_->marks; }

const std::string& AudioStream::request_id() {
  info();
  return impl_->request_id;
}

void AudioStream::Cancel() {
  impl_->cancelled = true;
  impl_->context.TryCancel();
}

// --- LiveSession ----------------------------------------------------------------------------

struct LiveSession::Impl {
  using Stream = grpc::ClientReaderWriter<pb::LiveSynthesizeRequest, pb::LiveSynthesizeResponse>;
  grpc::ClientContext context;
  std::unique_ptr<Stream> stream;
  std::string sent_request_id;
  std::string request_id;
  std::optional<AudioInfo> info;
  std::optional<SynthesisStats> stats;
  std::mutex write_mutex;  // writers from several threads, and Finish, take turns
  bool writes_done = false;
  bool ended = false;
  std::atomic<bool> aborted{false};

  ~Impl() {
    if (ended) return;
    context.TryCancel();
    pb::LiveSynthesizeResponse ignored;
    while (stream->Read(&ignored)) {
    }
    std::lock_guard<std::mutex> lock(write_mutex);
    stream->Finish();
  }

  bool Write(const pb::LiveSynthesizeRequest& request) {
    std::lock_guard<std::mutex> lock(write_mutex);
    return !writes_done && stream->Write(request);
  }
};

LiveSession Client::Live(const LiveOptions& options) {
  auto impl = std::make_unique<LiveSession::Impl>();
  impl_->Prepare(impl->context, options.timeout, options.request_id);
  impl->sent_request_id = options.request_id;
  impl->stream = impl_->stub->LiveSynthesize(&impl->context);
  pb::LiveSynthesizeRequest start;
  *start.mutable_start()->mutable_config() = ToProto("", options);
  start.mutable_start()->set_min_clause_chars(options.min_clause_chars);
  start.mutable_start()->set_max_wait_ms(options.max_wait_ms);
  // A failed write means the call has already ended: Read() reports its status.
  impl->Write(start);
  return LiveSession(std::move(impl));
}

LiveSession::LiveSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LiveSession::LiveSession(LiveSession&&) noexcept = default;
LiveSession& LiveSession::operator=(LiveSession&&) noexcept = default;
LiveSession::~LiveSession() = default;

bool LiveSession::Send(const std::string& text) {
  pb::LiveSynthesizeRequest request;
  request.set_text(text);
  return impl_->Write(request);
}

bool LiveSession::Flush() {
  pb::LiveSynthesizeRequest request;
  request.mutable_flush();
  return impl_->Write(request);
}

bool LiveSession::Cancel() {
  pb::LiveSynthesizeRequest request;
  request.mutable_cancel();
  return impl_->Write(request);
}

void LiveSession::Close() {
  std::lock_guard<std::mutex> lock(impl_->write_mutex);
  if (impl_->writes_done) return;
  impl_->writes_done = true;
  impl_->stream->WritesDone();
}

void LiveSession::Abort() {
  impl_->aborted = true;
  impl_->context.TryCancel();
}

bool LiveSession::Read(LiveEvent& event) {
  Impl& impl = *impl_;
  if (impl.ended) return false;
  pb::LiveSynthesizeResponse message;
  while (impl.stream->Read(&message)) {
    if (impl.request_id.empty()) impl.request_id = ServerRequestId(impl.context);
    switch (message.response_case()) {
      case pb::LiveSynthesizeResponse::kInfo: impl.info = FromProto(message.info()); break;
      case pb::LiveSynthesizeResponse::kStats: impl.stats = FromProto(message.stats()); break;
      case pb::LiveSynthesizeResponse::kAudio:
        event = LiveAudio{std::move(*message.mutable_audio())};
        return true;
      case pb::LiveSynthesizeResponse::kMarks: {
        LiveMarks marks;
        AppendMarks(message.marks().marks(), marks.marks);
        event = std::move(marks);
        return true;
      }
      case pb::LiveSynthesizeResponse::kFlushed:
        event = LiveFlushed{message.flushed().text_offset(), message.flushed().audio_seconds()};
        return true;
      case pb::LiveSynthesizeResponse::kCancelled: {
        const pb::LiveCancelled& cancelled = message.cancelled();
        event = LiveCancelled{cancelled.text_offset(), cancelled.audio_seconds(),
                              cancelled.utterance_audio_seconds()};
        return true;
      }
      default:  // a response kind newer than this client
        break;
    }
  }
  grpc::Status status;
  {
    std::lock_guard<std::mutex> lock(impl.write_mutex);
    impl.writes_done = true;
    impl.ended = true;
    status = impl.stream->Finish();
  }
  if (impl.request_id.empty()) impl.request_id = ServerRequestId(impl.context);
  if (status.ok() || (impl.aborted && status.error_code() == grpc::StatusCode::CANCELLED)) {
    return false;
  }
  throw ErrorOf(status, impl.request_id.empty() ? impl.sent_request_id : impl.request_id);
}

const std::optional<AudioInfo>& LiveSession::info() const { return impl_->info; }
const std::optional<SynthesisStats>& LiveSession::stats() const { return impl_->stats; }
const std::string& LiveSession::request_id() const { return impl_->request_id; }

}  // namespace cantata
