// Builds against the installed client and touches it without a server.
#include <cantata/client.h>

#include <cstring>

int main() {
  cantata::Error error(cantata::StatusCode::kNotFound, "no such voice", "id-1");
  cantata::Client client("127.0.0.1:1");
  return std::strcmp(error.what(), "NOT_FOUND: no such voice") == 0 ? 0 : 1;
}
