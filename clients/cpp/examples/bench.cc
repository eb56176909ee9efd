// bench --server HOST:PORT --requests N "text"
//
// Makes N StreamSynthesize calls one after another (PCM, the default voice) and prints one JSON
// line per call on standard output, timed on this side with a monotonic clock:
//   {"first_audio_seconds": <call start to first audio chunk>, "total_seconds": <to stream end>}
#include <cantata/client.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

namespace {

constexpr char kUsage[] =
    "usage: bench [--server HOST:PORT] --requests N [--tls-ca FILE] [--api-key KEY] \"text\"\n"
    "The API key may also come from CANTATA_API_KEY.\n";

int Usage(const std::string& problem) {
  std::cerr << "bench: " << problem << "\n" << kUsage;
  return 2;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string server = "127.0.0.1:50051";
  std::string text;
  long requests = 0;
  cantata::ClientOptions client_options;
  if (const char* key = std::getenv("CANTATA_API_KEY")) client_options.api_key = key;
  cantata::SynthesizeOptions options;
  options.encoding = cantata::Encoding::kPcm;  // the default voice: options.voice stays empty

  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* given = nullptr;
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--server" && (given = value())) {
      server = given;
    } else if (arg == "--requests" && (given = value())) {
      char* end = nullptr;
      requests = std::strtol(given, &end, 10);
      if (*given == '\0' || *end != '\0' || requests < 1) {
        return Usage(std::string("--requests wants a whole number of at least 1, not ") + given);
      }
    } else if (arg == "--tls-ca" && (given = value())) {
      client_options.tls_ca_file = given;
    } else if (arg == "--api-key" && (given = value())) {
      client_options.api_key = given;
    } else if (!arg.empty() && arg[0] == '-') {
      return Usage("unknown option or missing value: " + arg);
    } else if (text.empty()) {
      text = arg;
    } else {
      return Usage("give the text as one argument");
    }
  }
  if (requests < 1) return Usage("--requests N is required");
  if (text.empty()) return Usage("no text given");

  try {
    cantata::Client client(server, client_options);
    for (long n = 0; n < requests; ++n) {
      const auto start = std::chrono::steady_clock::now();
      cantata::AudioStream stream = client.Stream(text, options);
      double first_audio = -1;
      std::string chunk;
      while (stream.Read(chunk)) {
        if (first_audio < 0 && !chunk.empty()) first_audio = SecondsSince(start);
      }
      const double total = SecondsSince(start);
      if (first_audio < 0) {
        std::cerr << "bench: request " << n + 1 << " ended without audio\n";
        return 1;
      }
      if (!stream.stats()) {
        std::cerr << "bench: request " << n + 1 << " ended without its stats\n";
        return 1;
      }
      char line[128];
      std::snprintf(line, sizeof(line), "{\"first_audio_seconds\": %.6f, \"total_seconds\": %.6f}",
                    first_audio, total);
      std::cout << line << std::endl;
    }
  } catch (const cantata::Error& error) {
    std::cerr << "bench: " << error.what();
    if (!error.request_id().empty()) std::cerr << " (request " << error.request_id() << ")";
    std::cerr << "\n";
    return 1;
  } catch (const std::exception& error) {
    std::cerr << "bench: " << error.what() << "\n";
    return 1;
  }
  if (!std::cout) {
    std::cerr << "bench: cannot write to standard output\n";
    return 1;
  }
  return 0;
}
