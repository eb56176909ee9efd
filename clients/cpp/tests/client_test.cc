// The client end to end against real Cantata servers named by the environment (see
// tests/clients/servers.py): CANTATA_TARGET, CANTATA_METRICS_URL, CANTATA_TLS_TARGET,
// CANTATA_TLS_CA, CANTATA_API_KEY and CANTATA_AUDIO_CHECK.
#include <arpa/inet.h>
#include <cantata/client.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "check.h"

namespace {

using cantata::Encoding;
using cantata::StatusCode;
using namespace std::chrono_literals;

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    throw std::runtime_error(std::string(name) + " is not set (see tests/clients/servers.py)");
  }
  return value;
}

cantata::Client PlainClient() { return cantata::Client(Env("CANTATA_TARGET")); }

// Near the server's 5000 characters: about 5 minutes of audio, many seconds of synthesis, still
// running when a stream is cancelled or a deadline passes.
std::string LongText() {
  std::string text;
  for (int i = 0; i < 65; ++i) {
    text += "This is one of many sentences in a long story that keeps the voice busy. ";
  }
  return text;
}

std::string TempPath(const std::string& name) {
  const char* folder = std::getenv("TMPDIR");
  return std::string(folder ? folder : "/tmp") + "/cantata-cpp-" + std::to_string(getpid()) + "-" +
         name;
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream file(path, std::ios::binary);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  CHECK(file.good());
}

struct Decoded {
  int sample_rate = 0;
  int channels = 0;
  double seconds = 0;
};

double JsonNumber(const std::string& json, const std::string& key) {
  std::smatch match;
  std::regex pattern("\"" + key + "\"\\s*:\\s*([0-9.eE+-]+)");
  if (!std::regex_search(json, match, pattern)) {
    throw std::runtime_error("no " + key + " in " + json);
  }
  return std::stod(match[1]);
}

// Decodes the file with CANTATA_AUDIO_CHECK (FFmpeg) and returns what it found.
Decoded DecodeFile(const std::string& path) {
  std::string command = Env("CANTATA_AUDIO_CHECK") + " '" + path + "'";
  FILE* pipe = popen(command.c_str(), "r");
  CHECK(pipe != nullptr);
  std::string output;
  char buffer[512];
  size_t read;
  while ((read = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, read);
  int status = pclose(pipe);
  if (status != 0) throw std::runtime_error("audio check failed on " + path + ": " + output);
  return {static_cast<int>(JsonNumber(output, "sample_rate")),
          static_cast<int>(JsonNumber(output, "channels")), JsonNumber(output, "seconds")};
}

// GET of an http://host:port/path URL (the metrics endpoint), body only.
std::string HttpGet(const std::string& url) {
  std::smatch parts;
  std::regex pattern(R"(http://([^:/]+):(\d+)(/.*)?)");
  if (!std::regex_match(url, parts, pattern)) throw std::runtime_error("bad URL " + url);
  std::string host = parts[1], port = parts[2], path = parts[3].length() ? parts[3].str() : "/";
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* address = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &address) != 0) {
    throw std::runtime_error("cannot resolve " + host);
  }
  int fd = socket(address->ai_family, address->ai_socktype, address->ai_protocol);
  bool connected = fd >= 0 && connect(fd, address->ai_addr, address->ai_addrlen) == 0;
  freeaddrinfo(address);
  if (!connected) {
    if (fd >= 0) close(fd);
    throw std::runtime_error("cannot connect to " + url);
  }
  std::string request = "GET " + path + " HTTP/1.0\r\nHost: " + host + "\r\n\r\n";
  CHECK(send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size()));
  std::string response;
  char buffer[4096];
  ssize_t got;
  while ((got = recv(fd, buffer, sizeof(buffer), 0)) > 0) response.append(buffer, got);
  close(fd);
  size_t body = response.find("\r\n\r\n");
  CHECK(response.rfind("HTTP/1.", 0) == 0 && response.find(" 200 ") != std::string::npos);
  return response.substr(body + 4);
}

// cantata_inflight_requests{model="piper"} from the plaintext server's metrics.
double InflightRequests() {
  std::string metrics = HttpGet(Env("CANTATA_METRICS_URL"));
  std::regex line(R"(cantata_inflight_requests\{[^}]*model="piper"[^}]*\}\s+([0-9.eE+-]+))");
  std::smatch match;
  if (!std::regex_search(metrics, match, line)) {
    throw std::runtime_error("no cantata_inflight_requests for piper in the metrics");
  }
  return std::stod(match[1]);
}

// Runs the call and checks that it throws cantata::Error with this code; returns the error.
cantata::Error ExpectError(StatusCode code, const std::function<void()>& call) {
  try {
    call();
  } catch (const cantata::Error& error) {
    if (error.code() != code) {
      throw std::runtime_error(std::string("expected ") + cantata::StatusCodeName(code) + ", got " +
                               error.what());
    }
    return error;
  }
  throw std::runtime_error(std::string("expected ") + cantata::StatusCodeName(code) +
                           ", the call succeeded");
}

std::string ReadAll(cantata::AudioStream& stream) {
  std::string audio, chunk;
  while (stream.Read(chunk)) audio += chunk;
  return audio;
}

double PcmSeconds(const std::string& pcm, int rate) {
  return static_cast<double>(pcm.size()) / 2.0 / rate;
}

}  // namespace

CANTATA_TEST(unary_wav) {
  cantata::Client client = PlainClient();
  cantata::SynthesizeOptions options;
  options.encoding = Encoding::kWav;
  cantata::Synthesis result = client.Synthesize("Hello from the C++ client.", options);
  CHECK_EQ(result.audio.substr(0, 4), std::string("RIFF"));
  CHECK_EQ(result.audio.substr(8, 4), std::string("WAVE"));
  CHECK_EQ(result.info.sample_rate_hz, 22050);
  CHECK_EQ(result.info.channels, 1);
  CHECK(result.info.encoding == Encoding::kWav);
  CHECK(result.info.duration_seconds > 1.0);
  CHECK_NEAR(result.stats.audio_seconds, result.info.duration_seconds, 0.01);
  CHECK_EQ(result.stats.model, std::string("piper"));
  CHECK_EQ(result.stats.runtime, std::string("piper"));
  std::string path = TempPath("unary.wav");
  WriteFile(path, result.audio);
  Decoded decoded = DecodeFile(path);
  std::remove(path.c_str());
  CHECK_EQ(decoded.sample_rate, 22050);
  CHECK_EQ(decoded.channels, 1);
  CHECK_NEAR(decoded.seconds, result.info.duration_seconds, 0.01);
}

CANTATA_TEST(stream_ogg_opus_joins_into_one_file) {
  cantata::Client client = PlainClient();
  cantata::SynthesizeOptions options;
  options.encoding = Encoding::kOggOpus;
  cantata::AudioStream stream = client.Stream(
      "The first sentence is streamed. Then a second one follows it. And a third.", options);
  CHECK(stream.info().encoding == Encoding::kOggOpus);
  CHECK_EQ(stream.info().sample_rate_hz, 48000);
  std::string audio, chunk;
  int chunks = 0;
  while (stream.Read(chunk)) {
    audio += chunk;
    ++chunks;
  }
  CHECK(chunks > 1);
  CHECK_EQ(audio.substr(0, 4), std::string("OggS"));
  CHECK(stream.stats().has_value());
  std::string path = TempPath("stream.ogg");
  WriteFile(path, audio);
  Decoded decoded = DecodeFile(path);
  std::remove(path.c_str());
  CHECK_EQ(decoded.sample_rate, 48000);
  CHECK_EQ(decoded.channels, 1);
  CHECK(decoded.seconds > 3.0);
  CHECK_NEAR(decoded.seconds, stream.stats()->audio_seconds, 0.1);
}

CANTATA_TEST(stream_info_before_audio_and_stats_after) {
  cantata::Client client = PlainClient();
  cantata::SynthesizeOptions options;
  options.encoding = Encoding::kPcm;
  cantata::AudioStream stream =
      client.Stream("Information comes first. Statistics come last.", options);
  const cantata::AudioInfo& info = stream.info();
  CHECK_EQ(info.sample_rate_hz, 22050);
  CHECK(info.encoding == Encoding::kPcm);
  CHECK_EQ(info.duration_seconds, 0.0);
  CHECK(!stream.stats().has_value());
  std::string first;
  CHECK(stream.Read(first));
  CHECK(!first.empty());
  CHECK(!stream.stats().has_value());
  std::string audio = first + ReadAll(stream);
  CHECK(stream.stats().has_value());
  const cantata::SynthesisStats& stats = *stream.stats();
  CHECK_NEAR(stats.audio_seconds, PcmSeconds(audio, 22050), 0.01);
  CHECK(stats.time_to_first_audio_seconds > 0);
  CHECK(stats.compute_seconds > 0);
  std::string after;
  CHECK(!stream.Read(after));
}

CANTATA_TEST(resampling) {
  cantata::Client client = PlainClient();
  cantata::SynthesizeOptions options;
  options.encoding = Encoding::kPcm;
  options.sample_rate_hz = 16000;
  cantata::Synthesis result = client.Synthesize("Sixteen thousand samples a second.", options);
  CHECK_EQ(result.info.sample_rate_hz, 16000);
  CHECK_NEAR(PcmSeconds(result.audio, 16000), result.stats.audio_seconds, 0.01);
  options.encoding = Encoding::kWav;
  cantata::AudioStream stream = client.Stream("Sixteen thousand samples a second.", options);
  CHECK_EQ(stream.info().sample_rate_hz, 16000);
  std::string path = TempPath("resampled.wav");
  WriteFile(path, ReadAll(stream));
  Decoded decoded = DecodeFile(path);
  std::remove(path.c_str());
  CHECK_EQ(decoded.sample_rate, 16000);
  CHECK_NEAR(decoded.seconds, result.stats.audio_seconds, 0.02);
}

CANTATA_TEST(empty_text_is_invalid_argument) {
  cantata::Client client = PlainClient();
  cantata::Error error = ExpectError(StatusCode::kInvalidArgument, [&] { client.Synthesize(""); });
  CHECK(!error.message().empty());
  ExpectError(StatusCode::kInvalidArgument, [&] {
    cantata::AudioStream stream = client.Stream("");
    ReadAll(stream);
  });
}

CANTATA_TEST(unknown_voice_is_not_found) {
  cantata::Client client = PlainClient();
  cantata::SynthesizeOptions options;
  options.voice = "no-such-voice";
  cantata::Error error =
      ExpectError(StatusCode::kNotFound, [&] { client.Synthesize("Hello.", options); });
  CHECK(error.message().find("no-such-voice") != std::string::npos);
  CHECK(std::string(error.what()).rfind("NOT_FOUND: ", 0) == 0);
  // The server's own request id, though none was sent.
  CHECK(!error.request_id().empty());
}

CANTATA_TEST(bad_sample_rate_is_invalid_argument) {
  cantata::Client client = PlainClient();
  cantata::SynthesizeOptions options;
  options.sample_rate_hz = 1234;
  cantata::Error error =
      ExpectError(StatusCode::kInvalidArgument, [&] { client.Synthesize("Hello.", options); });
  CHECK(error.message().find("sample_rate") != std::string::npos);
  ExpectError(StatusCode::kInvalidArgument, [&] {
    cantata::AudioStream stream = client.Stream("Hello.", options);
    stream.info();
  });
}

// Each option arrives in its own proto field: the server names the field it refuses, and
// honours those the Piper voice takes.
CANTATA_TEST(every_option_reaches_the_server) {
  cantata::Client client = PlainClient();
  auto refused = [&](const std::string& field,
                     std::function<void(cantata::SynthesizeOptions&)> set) {
    cantata::SynthesizeOptions options;
    set(options);
    cantata::Error error =
        ExpectError(StatusCode::kInvalidArgument, [&] { client.Synthesize("Hi.", options); });
    if (error.message().find(field) == std::string::npos) {
      throw std::runtime_error(field + " not named in: " + error.message());
    }
  };
  refused("sampling.seed", [](auto& o) { o.sampling.seed = 7; });
  refused("sampling.top_p", [](auto& o) { o.sampling.top_p = 0.5f; });
  refused("sampling.top_k", [](auto& o) { o.sampling.top_k = 5; });
  refused("sampling.cfg_scale", [](auto& o) { o.sampling.cfg_scale = 2.0f; });
  refused("sampling.steps", [](auto& o) { o.sampling.steps = 8; });
  refused("instructions", [](auto& o) { o.instructions = "warm and amused"; });
  refused("prompt_text", [](auto& o) { o.prompt_text = "the words"; });
  refused("prompt_audio", [](auto& o) { o.prompt_audio = std::string("RIFF\0\0\0\0", 8); });
  refused("speaker 'nobody'", [](auto& o) { o.speaker = "nobody"; });
  refused("speed", [](auto& o) { o.speed = 5.0f; });
  cantata::SynthesizeOptions options;
  options.model = "no-such-model";
  ExpectError(StatusCode::kNotFound, [&] { client.Synthesize("Hi.", options); });

  const std::string text = "A sentence spoken at two speeds, and cut short when asked to.";
  options = {};
  options.model = "piper";
  options.voice = "en_US-joe-medium";
  double normal = client.Synthesize(text, options).info.duration_seconds;
  options.speed = 2.0f;
  double fast = client.Synthesize(text, options).info.duration_seconds;
  CHECK(fast < normal * 0.65);
  options = {};
  options.sampling.max_audio_seconds = 1.0f;
  options.sampling.temperature = 0.3f;
  CHECK(client.Synthesize(text, options).info.duration_seconds <= 1.05);
  CHECK(normal > 2.0);
}

CANTATA_TEST(cancelled_stream_frees_the_server) {
  cantata::Client client = PlainClient();
  cantata::SynthesizeOptions options;
  options.encoding = Encoding::kPcm;
  cantata::AudioStream stream = client.Stream(LongText(), options);
  std::string chunk;
  CHECK(stream.Read(chunk));
  CHECK(InflightRequests() >= 1);  // still speaking: the rest of the text is minutes of audio
  stream.Cancel();
  CHECK(!stream.Read(chunk));
  CHECK(!stream.stats().has_value());
  // Well before the synthesis could have finished on its own (over ten seconds).
  auto give_up = std::chrono::steady_clock::now() + 3s;
  double inflight = InflightRequests();
  while (inflight != 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(50ms);
    inflight = InflightRequests();
  }
  CHECK_EQ(inflight, 0.0);
}

CANTATA_TEST(deadline_exceeded) {
  cantata::Client client = PlainClient();
  cantata::SynthesizeOptions options;
  options.timeout = 100ms;
  auto began = std::chrono::steady_clock::now();
  ExpectError(StatusCode::kDeadlineExceeded, [&] { client.Synthesize(LongText(), options); });
  CHECK(std::chrono::steady_clock::now() - began < 5s);
  ExpectError(StatusCode::kDeadlineExceeded, [&] {
    cantata::AudioStream stream = client.Stream(LongText(), options);
    ReadAll(stream);
  });
  // A client-wide default applies to calls that set none.
  cantata::ClientOptions defaults;
  defaults.timeout = 100ms;
  cantata::Client hurried(Env("CANTATA_TARGET"), defaults);
  ExpectError(StatusCode::kDeadlineExceeded, [&] { hurried.Synthesize(LongText()); });
}

CANTATA_TEST(tls_with_ca_and_key) {
  cantata::ClientOptions secure;
  secure.tls_ca_file = Env("CANTATA_TLS_CA");
  secure.api_key = Env("CANTATA_API_KEY");
  cantata::Client client(Env("CANTATA_TLS_TARGET"), secure);
  std::vector<cantata::Voice> voices = client.Voices();
  CHECK(!voices.empty());
  cantata::Synthesis result = client.Synthesize("Over TLS.");
  CHECK(result.info.duration_seconds > 0.3);
  cantata::AudioStream stream = client.Stream("Streamed over TLS.");
  CHECK(!ReadAll(stream).empty());
}

CANTATA_TEST(tls_wrong_key_is_unauthenticated) {
  cantata::ClientOptions secure;
  secure.tls_ca_file = Env("CANTATA_TLS_CA");
  secure.api_key = "not-the-key";
  cantata::Client client(Env("CANTATA_TLS_TARGET"), secure);
  ExpectError(StatusCode::kUnauthenticated, [&] { client.Synthesize("Hello."); });
  ExpectError(StatusCode::kUnauthenticated, [&] { client.Voices(); });
  secure.api_key.clear();
  cantata::Client keyless(Env("CANTATA_TLS_TARGET"), secure);
  ExpectError(StatusCode::kUnauthenticated, [&] { keyless.Synthesize("Hello."); });
}

CANTATA_TEST(request_id_round_trip) {
  cantata::Client client = PlainClient();
  cantata::SynthesizeOptions options;
  options.request_id = "cpp-round-trip-42";
  cantata::Synthesis result = client.Synthesize("Which request was this?", options);
  CHECK_EQ(result.request_id, std::string("cpp-round-trip-42"));
  CHECK_EQ(result.stats.request_id, std::string("cpp-round-trip-42"));

  options.request_id = "cpp-stream-43";
  cantata::AudioStream stream = client.Stream("And this one?", options);
  CHECK_EQ(stream.request_id(), std::string("cpp-stream-43"));
  ReadAll(stream);
  CHECK_EQ(stream.stats()->request_id, std::string("cpp-stream-43"));

  cantata::Synthesis unnamed = client.Synthesize("No id sent.");
  CHECK(!unnamed.request_id.empty());
  CHECK_EQ(unnamed.request_id, unnamed.stats.request_id);

  options.request_id = "cpp-error-44";
  options.voice = "no-such-voice";
  cantata::Error error =
      ExpectError(StatusCode::kNotFound, [&] { client.Synthesize("Hello.", options); });
  CHECK_EQ(error.request_id(), std::string("cpp-error-44"));
}

CANTATA_TEST(voices) {
  cantata::Client client = PlainClient();
  std::vector<cantata::Voice> voices = client.Voices("piper");
  CHECK(!voices.empty());
  const cantata::Voice& voice = voices.front();
  CHECK_EQ(voice.model, std::string("piper"));
  CHECK_EQ(voice.runtime, std::string("piper"));
  CHECK_EQ(voice.native_sample_rate_hz, 22050);
  CHECK(!voice.voice_id.empty());
  CHECK(voice.capabilities.streaming);
  bool has_default = false;
  for (const auto& each : voices) has_default = has_default || each.is_default;
  CHECK(has_default);
}

CANTATA_TEST(timing_marks) {
  cantata::Client client = PlainClient();
  cantata::SynthesizeOptions options;
  options.timing.words = true;
  const std::string text = "Marks for every word.";
  cantata::Synthesis result = client.Synthesize(text, options);
  std::vector<std::string> words;
  for (const cantata::Mark& mark : result.marks) {
    CHECK(mark.kind == cantata::MarkKind::kWord);
    CHECK(mark.end_seconds <= result.info.duration_seconds + 0.01);
    words.push_back(text.substr(mark.text_offset, mark.text_length));  // ASCII: code points
    CHECK_EQ(words.back(), mark.value);
  }
  CHECK_EQ(words.size(), size_t{4});
  CHECK_EQ(words.front(), std::string("Marks"));
}

CANTATA_TEST(live_session) {
  cantata::Client client = PlainClient();
  cantata::LiveOptions options;
  options.encoding = Encoding::kPcm;
  cantata::LiveSession live = client.Live(options);
  // Text arrives from another thread while this one reads, as from a language model.
  std::thread writer([&live] {
    for (const char* delta : {"Hello the", "re, this is a li", "ve session. How are", " you?"}) {
      live.Send(delta);
      std::this_thread::sleep_for(20ms);
    }
    live.Close();
  });
  std::string audio;
  cantata::LiveEvent event;
  while (live.Read(event)) {
    if (auto* chunk = std::get_if<cantata::LiveAudio>(&event)) audio += chunk->audio;
  }
  writer.join();
  CHECK(live.info().has_value());
  CHECK_EQ(live.info()->sample_rate_hz, 22050);
  CHECK(live.stats().has_value());
  CHECK(PcmSeconds(audio, 22050) > 1.5);
  CHECK_NEAR(live.stats()->audio_seconds, PcmSeconds(audio, 22050), 0.01);
  CHECK(!live.request_id().empty());
}

CANTATA_TEST(live_flush) {
  cantata::Client client = PlainClient();
  cantata::LiveSession live = client.Live();
  const std::string text = "Half a sentence with no end";
  live.Send(text);
  live.Flush();
  cantata::LiveEvent event;
  std::optional<cantata::LiveFlushed> flushed;
  while (!flushed && live.Read(event)) {
    if (auto* answer = std::get_if<cantata::LiveFlushed>(&event)) flushed = *answer;
  }
  CHECK(flushed.has_value());
  CHECK_EQ(flushed->text_offset, static_cast<uint32_t>(text.size()));
  CHECK(flushed->audio_seconds > 0.5);
  live.Close();
  while (live.Read(event)) {
  }
  CHECK(live.stats().has_value());
}

CANTATA_TEST(live_cancel_is_answered_by_cancelled) {
  cantata::Client client = PlainClient();
  cantata::LiveOptions options;
  options.encoding = Encoding::kPcm;
  cantata::LiveSession live = client.Live(options);
  live.Send(LongText());
  cantata::LiveEvent event;
  bool heard = false;
  while (!heard && live.Read(event)) heard = std::holds_alternative<cantata::LiveAudio>(event);
  CHECK(heard);
  live.Cancel();
  std::optional<cantata::LiveCancelled> cancelled;
  while (!cancelled && live.Read(event)) {
    if (auto* answer = std::get_if<cantata::LiveCancelled>(&event)) cancelled = *answer;
  }
  CHECK(cancelled.has_value());
  CHECK(cancelled->text_offset < LongText().size());
  CHECK(cancelled->utterance_audio_seconds > 0);
  live.Close();
  double after = 0;
  while (live.Read(event)) {
    if (auto* chunk = std::get_if<cantata::LiveAudio>(&event)) after += chunk->audio.size();
  }
  CHECK_EQ(after, 0.0);  // nothing of the cancelled utterance follows
  CHECK(live.stats().has_value());
  CHECK_NEAR(live.stats()->audio_seconds, cancelled->audio_seconds, 0.01);
}

int main(int argc, char** argv) {
  auto& cases = cantata_test::Registry();
  if (argc != 2 || (cases.count(argv[1]) == 0 && std::string(argv[1]) != "--list")) {
    std::cerr << "usage: " << argv[0] << " --list | CASE\n";
    return 2;
  }
  if (std::string(argv[1]) == "--list") {
    for (const auto& [name, body] : cases) std::cout << name << "\n";
    return 0;
  }
  try {
    cases[argv[1]]();
  } catch (const std::exception& failure) {
    std::cerr << argv[1] << " FAILED: " << failure.what() << "\n";
    return 1;
  }
  return 0;
}
