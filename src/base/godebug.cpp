#include "base/godebug.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace goro::detail {

namespace {

struct godebug_key {
  const char* name;
  std::int64_t min, max;
  std::int64_t debug_settings::*field;
  const char* meaning;  // for the error message: what the value is
};

constexpr std::int64_t one_day_ms = 24 * 3600 * 1000;

// The keys goro knows. Ranges: a period of at most a day (a larger one is
// almost certainly a unit mistake), a flag 0 or 1.
constexpr godebug_key keys[] = {
    {"schedtrace", 0, one_day_ms, &debug_settings::schedtrace,
     "milliseconds between SCHED lines, 0: off"},
    {"scheddetail", 0, 1, &debug_settings::scheddetail, "1: per-P, M and G lines, 0: off"},
    {"stallwarn", 0, one_day_ms, &debug_settings::stallwarn,
     "milliseconds a goroutine may keep its P without a scheduling point, 0: off"},
    {"sigquit", 0, 1, &debug_settings::sigquit,
     "1: a goroutine dump on SIGQUIT, 0: SIGQUIT keeps its default action"},
};

std::string known_keys() {
  std::string s;
  for (const godebug_key& k : keys) {
    if (!s.empty()) s += ", ";
    s += k.name;
  }
  return s;
}

[[noreturn]] void bad(std::string_view item, const std::string& why) {
  throw std::invalid_argument("goro::run: environment variable GORO_DEBUG: \"" + std::string(item) +
                              "\": " + why);
}

}  // namespace

debug_settings parse_godebug(std::string_view s, std::string* warnings) {
  debug_settings out;
  while (!s.empty()) {
    std::size_t comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
    if (item.empty()) continue;
    std::size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0)
      bad(item, "want key=value (a comma-separated list, as GODEBUG)");
    std::string_view name = item.substr(0, eq);
    std::string value(item.substr(eq + 1));
    const godebug_key* key = nullptr;
    for (const godebug_key& k : keys)
      if (name == k.name) key = &k;
    if (!key) {
      if (warnings)
        *warnings += "goro: GORO_DEBUG: unknown key \"" + std::string(name) +
                     "\" ignored (known keys: " + known_keys() + ")\n";
      continue;
    }
    char* end = nullptr;
    errno = 0;
    long long v = value.empty() ? 0 : std::strtoll(value.c_str(), &end, 10);
    if (value.empty() || errno || *end || v < key->min || v > key->max)
      bad(item, "the value of " + std::string(key->name) + " must be a whole number in " +
                    std::to_string(key->min) + ".." + std::to_string(key->max) + " (" +
                    key->meaning + ")");
    out.*(key->field) = v;
  }
  return out;
}

debug_settings godebug_from_env() {
  const char* env = std::getenv("GORO_DEBUG");
  if (!env) return {};
  std::string warnings;
  debug_settings d = parse_godebug(env, &warnings);
  if (!warnings.empty()) std::fputs(warnings.c_str(), stderr);
  return d;
}

}  // namespace goro::detail
