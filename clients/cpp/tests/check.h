// A small test harness: CANTATA_TEST(name) registers a case, CHECK* throw on failure, and
// `cantata_client_test NAME` runs one case (CTest runs each as its own test).
#ifndef CANTATA_TESTS_CHECK_H_
#define CANTATA_TESTS_CHECK_H_

#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>

namespace cantata_test {

inline std::map<std::string, std::function<void()>>& Registry() {
  static std::map<std::string, std::function<void()>> cases;
  return cases;
}

struct Registration {
  Registration(const char* name, std::function<void()> body) { Registry()[name] = body; }
};

[[noreturn]] inline void Fail(const char* file, int line, const std::string& what) {
  std::ostringstream message;
  message << file << ":" << line << ": " << what;
  throw std::runtime_error(message.str());
}

}  // namespace cantata_test

#define CANTATA_TEST(name)                                                   \
  static void name();                                                        \
  static const cantata_test::Registration name##_registration(#name, &name); \
  static void name()

#define CHECK(condition) \
  if (!(condition)) cantata_test::Fail(__FILE__, __LINE__, "CHECK(" #condition ") failed")

#define CHECK_EQ(actual, expected)                                                           \
  do {                                                                                       \
    const auto& actual_value = (actual);                                                     \
    const auto& expected_value = (expected);                                                 \
    if (!(actual_value == expected_value)) {                                                 \
      std::ostringstream message_;                                                           \
      message_ << #actual " == " #expected ": " << actual_value << " != " << expected_value; \
      cantata_test::Fail(__FILE__, __LINE__, message_.str());                                \
    }                                                                                        \
  } while (0)

#define CHECK_NEAR(actual, expected, tolerance)                                            \
  do {                                                                                     \
    double actual_value = (actual);                                                        \
    double expected_value = (expected);                                                    \
    if (!(actual_value >= expected_value - (tolerance) &&                                  \
          actual_value <= expected_value + (tolerance))) {                                 \
      std::ostringstream message_;                                                         \
      message_ << #actual " ~ " #expected ": " << actual_value << " vs " << expected_value \
               << " (+-" << (tolerance) << ")";                                            \
      cantata_test::Fail(__FILE__, __LINE__, message_.str());                              \
    }                                                                                      \
  } while (0)

#endif  // CANTATA_TESTS_CHECK_H_
