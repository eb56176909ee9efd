// say --server 127.0.0.1:50051 [--voice V] [--rate HZ] -o out.wav "text"
//
// Streams the speech into a WAV file as it is produced, then writes the real sizes into the
// header (a streamed WAV carries the unknown sizes 0xFFFFFFFF).
#include <cantata/client.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

namespace {

constexpr char kUsage[] =
    "usage: say [--server HOST:PORT] [--model M] [--voice V] [--rate HZ] [--speed X]\n"
    "           [--tls-ca FILE] [--api-key KEY] -o out.wav \"text\"\n"
    "The API key may also come from CANTATA_API_KEY.\n";

void WriteLittleEndian32(std::fstream& file, std::streamoff offset, uint32_t value) {
  const char bytes[4] = {static_cast<char>(value & 0xff), static_cast<char>((value >> 8) & 0xff),
                         static_cast<char>((value >> 16) & 0xff),
                         static_cast<char>((value >> 24) & 0xff)};
  file.seekp(offset);
  file.write(bytes, sizeof(bytes));
}

int Usage(const char* problem) {
  std::cerr << "say: " << problem << "\n" << kUsage;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string server = "127.0.0.1:50051";
  std::string output;
  std::string text;
  cantata::ClientOptions client_options;
  if (const char* key = std::getenv("CANTATA_API_KEY")) client_options.api_key = key;
  cantata::SynthesizeOptions options;
  options.encoding = cantata::Encoding::kWav;

  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* given = nullptr;
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--server" && (given = value())) {
      server = given;
    } else if (arg == "--model" && (given = value())) {
      options.model = given;
    } else if (arg == "--voice" && (given = value())) {
      options.voice = given;
    } else if (arg == "--rate" && (given = value())) {
      options.sample_rate_hz = std::atoi(given);
    } else if (arg == "--speed" && (given = value())) {
      options.speed = std::strtof(given, nullptr);
    } else if (arg == "--tls-ca" && (given = value())) {
      client_options.tls_ca_file = given;
    } else if (arg == "--api-key" && (given = value())) {
      client_options.api_key = given;
    } else if ((arg == "-o" || arg == "--output") && (given = value())) {
      output = given;
    } else if (!arg.empty() && arg[0] == '-') {
      return Usage(("unknown option or missing value: " + arg).c_str());
    } else if (text.empty()) {
      text = arg;
    } else {
      return Usage("give the text as one argument");
    }
  }
  if (output.empty()) return Usage("-o out.wav is required");
  if (text.empty()) return Usage("no text given");

  std::fstream file(output, std::ios::binary | std::ios::in | std::ios::out | std::ios::trunc);
  if (!file) {
    std::cerr << "say: cannot write " << output << "\n";
    return 1;
  }
  try {
    cantata::Client client(server, client_options);
    cantata::AudioStream stream = client.Stream(text, options);
    std::string chunk;
    while (stream.Read(chunk)) {
      file.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    }
    auto size = static_cast<uint32_t>(file.tellp());
    if (size < 44) {
      std::cerr << "say: the server sent no WAV header\n";
      return 1;
    }
    WriteLittleEndian32(file, 4, size - 8);    // RIFF chunk size
    WriteLittleEndian32(file, 40, size - 44);  // data chunk size
    file.close();
    if (!file) {
      std::cerr << "say: cannot write " << output << "\n";
      return 1;
    }
    const cantata::AudioInfo& info = stream.info();
    double seconds = stream.stats() ? stream.stats()->audio_seconds : 0.0;
    std::cerr << output << ": " << seconds << " s at " << info.sample_rate_hz << " Hz, request "
              << stream.request_id() << "\n";
  } catch (const cantata::Error& error) {
    std::cerr << "say: " << error.what();
    if (!error.request_id().empty()) std::cerr << " (request " << error.request_id() << ")";
    std::cerr << "\n";
    return 1;
  } catch (const std::exception& error) {
    std::cerr << "say: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
