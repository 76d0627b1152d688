// Scans at memory speed where JavaScript costs a few ns an element (src/kernel/scan.ts).
//
// The route-file scanner behind `pathwise route load FILE`: a full table is a million lines of
// "PREFIX NEXTHOP-TEXT" that repeat a few nexthop texts. Scanning its bytes here takes a few
// tens of ms; the same scan in JavaScript took ~0.5 s (a string's charCodeAt costs a few ns a
// character). This file only finds plain prefixes and groups lines by their nexthop text: what
// a line means (the nexthop text, any line it leaves out) is parsed in TypeScript
// (src/routing/route-syntax.ts), once per distinct text.
#include <cstdint>
#include <cstring>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common.h"

namespace pw {

namespace {

constexpr int kEnd = -1;  // past the last byte

class Text {
 public:
  Text(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  int At(size_t i) const { return i < n_ ? p_[i] : kEnd; }
  // The first `c` at or after `from`, or the text's length.
  size_t Find(uint8_t c, size_t from) const {
    if (from >= n_) return n_;
    const void* hit = memchr(p_ + from, c, n_ - from);
    return hit ? static_cast<const uint8_t*>(hit) - p_ : n_;
  }

 private:
  const uint8_t* p_;
  size_t n_;
};

bool IsSpace(int c) { return c == ' ' || c == '\t' || c == '\r'; }
bool IsEnd(int c) { return IsSpace(c) || c == '\n' || c == kEnd; }
bool IsDigit(int c) { return c >= '0' && c <= '9'; }
int HexValue(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// What a fast scanner read.
struct Prefix {
  uint32_t v4 = 0;
  uint8_t v6[16] = {};
  int plen = 0;
  size_t end = 0;  // the byte after the length
};

// "/len" digits at i (after the '/') up to max, followed by a space or the line's end.
bool ScanLength(const Text& t, size_t i, int max, Prefix* out) {
  int plen = 0;
  int digits = 0;
  for (; IsDigit(t.At(i)); i++) {
    if (++digits <= 3) plen = plen * 10 + (t.At(i) - '0');
  }
  if (digits == 0 || digits > 3 || plen > max || !IsEnd(t.At(i))) return false;
  out->plen = plen;
  out->end = i;
  return true;
}

// "a.b.c.d/len" at i (after spaces and tabs), host bits clear. Anything else is the general
// parser's, which explains what is wrong.
bool ScanV4(const Text& t, size_t i, Prefix* out) {
  while (t.At(i) == ' ' || t.At(i) == '\t') i++;
  uint32_t addr = 0;
  for (int octet = 0; octet < 4; octet++) {
    int v = 0;
    int digits = 0;
    for (; IsDigit(t.At(i)); i++) {
      if (++digits <= 3) v = v * 10 + (t.At(i) - '0');
    }
    if (digits == 0 || digits > 3 || v > 255) return false;
    addr = addr << 8 | static_cast<uint32_t>(v);
    if (octet < 3) {
      if (t.At(i) != '.') return false;
      i++;
    }
  }
  if (t.At(i) != '/') return false;
  if (!ScanLength(t, i + 1, 32, out)) return false;
  if (out->plen < 32 && (addr & (0xffffffffu >> out->plen)) != 0) return false;
  out->v4 = addr;
  return true;
}

// "x:x::x/len" at i (after spaces and tabs), host bits clear; not an embedded IPv4 address.
bool ScanV6(const Text& t, size_t i, Prefix* out) {
  while (t.At(i) == ' ' || t.At(i) == '\t') i++;
  uint16_t groups[8];
  int n = 0;     // groups read
  int gap = -1;  // where '::' stands among them
  if (t.At(i) == ':') {
    if (t.At(i + 1) != ':') return false;
    gap = 0;
    i += 2;
  }
  for (bool afterGap = gap == 0;;) {
    uint32_t v = 0;
    int digits = 0;
    for (int h = HexValue(t.At(i)); h >= 0; h = HexValue(t.At(++i))) {
      if (++digits <= 4) v = v * 16 + h;
    }
    if (digits == 0) {
      if (afterGap) break;  // "...::/len"
      return false;
    }
    if (digits > 4 || n == 8) return false;
    groups[n++] = static_cast<uint16_t>(v);
    if (t.At(i) != ':') break;
    if (t.At(i + 1) == ':') {
      if (gap >= 0) return false;
      gap = n;
      i += 2;
      afterGap = true;
    } else {
      i++;
      afterGap = false;
    }
  }
  if (t.At(i) != '/') return false;  // a '.' is an embedded IPv4 address
  if (gap < 0 ? n != 8 : n > 7) return false;
  memset(out->v6, 0, 16);
  int tail = gap < 0 ? 0 : n - gap;  // groups after '::' go to the end
  for (int k = 0; k < n; k++) {
    int at = gap >= 0 && k >= gap ? 8 - tail + (k - gap) : k;
    out->v6[2 * at] = groups[k] >> 8;
    out->v6[2 * at + 1] = groups[k] & 255;
  }
  if (!ScanLength(t, i + 1, 128, out)) return false;
  for (int bit = out->plen; bit < 128; bit++) {
    if (out->v6[bit >> 3] & (0x80 >> (bit & 7))) return false;
  }
  return true;
}

// The lines of one family that the scanner read.
struct Family {
  std::vector<uint32_t> v4;
  std::vector<uint8_t> v6;
  std::vector<uint8_t> plen;
  std::vector<uint32_t> text;  // the nexthop text's index (in the scan's list of texts)
  std::vector<uint32_t> line;  // 1-based
  std::unordered_map<std::string_view, uint32_t> index;
  uint32_t last = UINT32_MAX;  // the previous line's text: tables repeat it
};

struct TextSeen {
  int family;
  uint32_t line;  // 0-based: the first line with it
  size_t start;   // that line's bytes, the comment cut off
  size_t end;
  std::string_view text;
};

template <typename T>
Napi::Value TypedCopy(Napi::Env env, const std::vector<T>& v) {
  if constexpr (sizeof(T) == 1) {
    auto a = Napi::Uint8Array::New(env, v.size());
    if (!v.empty()) memcpy(a.Data(), v.data(), v.size());
    return a;
  } else {
    auto a = Napi::Uint32Array::New(env, v.size());
    if (!v.empty()) memcpy(a.Data(), v.data(), v.size() * sizeof(T));
    return a;
  }
}

// A typed array over the vector's own memory (the vector moves into the ArrayBuffer, which frees
// it): a full table's arrays are ~12 MiB, and a copy touches as many fresh pages again (~10 us a
// page on some VMs). Where the runtime refuses external buffers, a copy.
template <typename T>
Napi::Value TypedAdopt(Napi::Env env, std::vector<T>&& v) {
  if (!v.empty()) {
    auto* held = new std::vector<T>(std::move(v));
    napi_value ab;
    napi_status st = napi_create_external_arraybuffer(
        env, held->data(), held->size() * sizeof(T), [](napi_env, void*, void* hint) { delete static_cast<std::vector<T>*>(hint); },
        held, &ab);
    if (st == napi_ok) {
      napi_value arr;
      napi_typedarray_type type = sizeof(T) == 1 ? napi_uint8_array : napi_uint32_array;
      if (napi_create_typedarray(env, type, held->size(), ab, 0, &arr) == napi_ok) return Napi::Value(env, arr);
      return Napi::Value();  // the ArrayBuffer owns the vector now; the pending exception says why
    }
    v = std::move(*held);
    delete held;
  }
  return TypedCopy(env, v);
}

}  // namespace

// scanRouteText(bytes) -> { lines, v4: {count, addr, plen, text, line}, v6: {count, addr (16
// bytes each), plen, text, line}, texts: [{family, line, start, end}], others: Uint32Array }.
//
// Lines end at '\n'; a '#' starts a comment. A line that starts with a plain prefix (as the
// general parser reads it, host bits clear) goes to its family's arrays with the index of its
// nexthop text (what follows the prefix, trimmed); `texts` lists each distinct text per family
// once, with the first line that has it (its bytes, for the general parser). Every other line
// that holds more than spaces, tabs and CRs is in `others` as [0-based line, start, end]
// triples.
static Napi::Value ScanRouteText(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t len = 0;
  const auto* bytes = static_cast<const uint8_t*>(ArgBytes(info, 0, "bytes", &len));
  // Offsets and line numbers travel as 32-bit words.
  if (len > UINT32_MAX - 1) {
    throw Napi::RangeError::New(env, "a route file of " + std::to_string(len) + " bytes is past the 4 GiB this scanner reads");
  }
  Text t(bytes, len);
  Family fams[2];  // IPv4, IPv6
  // Room for every line in each family's arrays, so that no array grows by copying itself (the
  // capacity a family leaves unused is never touched: the pages stay unmapped).
  size_t lines = 1;
  for (size_t i = t.Find('\n', 0); i < len; i = t.Find('\n', i + 1)) lines++;
  fams[0].v4.reserve(lines);
  fams[1].v6.reserve(16 * lines);
  for (Family& f : fams) {
    f.plen.reserve(lines);
    f.text.reserve(lines);
    f.line.reserve(lines);
  }
  std::vector<TextSeen> texts;
  std::vector<uint32_t> others;
  Prefix p;
  size_t hash = t.Find('#', 0);
  uint32_t n = 0;
  for (size_t pos = 0; pos <= len; n++) {
    size_t eol = t.Find('\n', pos);
    if (hash < pos) hash = t.Find('#', pos);
    size_t lineEnd = hash < eol ? hash : eol;  // a comment ends the line
    int family = ScanV4(t, pos, &p) ? 4 : ScanV6(t, pos, &p) ? 6 : 0;
    if (family && p.end <= lineEnd) {
      size_t rs = p.end;
      while (rs < lineEnd && IsSpace(t.At(rs))) rs++;
      size_t re = lineEnd;
      while (re > rs && IsSpace(t.At(re - 1))) re--;
      std::string_view text(reinterpret_cast<const char*>(bytes) + rs, re - rs);
      Family& f = fams[family == 4 ? 0 : 1];
      uint32_t k = f.last;
      if (k == UINT32_MAX || texts[k].text != text) {
        auto [it, added] = f.index.try_emplace(text, static_cast<uint32_t>(texts.size()));
        if (added) texts.push_back({family, n, pos, lineEnd, text});
        k = it->second;
        f.last = k;
      }
      if (family == 4) {
        f.v4.push_back(p.v4);
      } else {
        f.v6.insert(f.v6.end(), p.v6, p.v6 + 16);
      }
      f.plen.push_back(static_cast<uint8_t>(p.plen));
      f.text.push_back(k);
      f.line.push_back(n + 1);
    } else {
      size_t i = pos;
      while (i < lineEnd && IsSpace(t.At(i))) i++;
      if (i < lineEnd) {
        others.push_back(n);
        others.push_back(static_cast<uint32_t>(pos));
        others.push_back(static_cast<uint32_t>(lineEnd));
      }
    }
    pos = eol + 1;
  }

  auto family = [&](Family& f, bool v4) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("count", Napi::Number::New(env, static_cast<double>(f.plen.size())));
    o.Set("addr", v4 ? TypedAdopt(env, std::move(f.v4)) : TypedAdopt(env, std::move(f.v6)));
    o.Set("plen", TypedAdopt(env, std::move(f.plen)));
    o.Set("text", TypedAdopt(env, std::move(f.text)));
    o.Set("line", TypedAdopt(env, std::move(f.line)));
    return o;
  };
  Napi::Array list = Napi::Array::New(env, texts.size());
  for (size_t k = 0; k < texts.size(); k++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("family", Napi::Number::New(env, texts[k].family));
    o.Set("line", Napi::Number::New(env, texts[k].line));
    o.Set("start", Napi::Number::New(env, static_cast<double>(texts[k].start)));
    o.Set("end", Napi::Number::New(env, static_cast<double>(texts[k].end)));
    list.Set(static_cast<uint32_t>(k), o);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("lines", Napi::Number::New(env, n));
  out.Set("v4", family(fams[0], true));
  out.Set("v6", family(fams[1], false));
  out.Set("texts", list);
  out.Set("others", TypedCopy(env, others));
  return out;
}

// flaggedWords(words: Uint32Array, mask) -> Uint32Array: the indices of the words with a bit of
// mask set. The IPv4 FIB's 16M first-level entries, searched for the ones that point to a group
// when a process adopts the pinned table: ~10 ms here, ~100 ms as a JavaScript loop.
static Napi::Value FlaggedWords(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
    throw Napi::TypeError::New(env, "words must be a Uint32Array");
  }
  auto words = info[0].As<Napi::Uint32Array>();
  uint32_t mask = ArgU32(info, 1, "mask");
  // Optional: records of `stride` words, the flag word at `offset` in each; hits are record
  // indices (the route records' VALID flags, read at every open of a 2M-record table).
  uint32_t stride = info.Length() > 2 ? ArgU32(info, 2, "stride") : 1;
  uint32_t offset = info.Length() > 3 ? ArgU32(info, 3, "offset") : 0;
  if (stride == 0 || offset >= stride) throw Napi::RangeError::New(env, "offset must be below a positive stride");
  std::vector<uint32_t> hits;
  const uint32_t* w = words.Data();
  size_t n = words.ElementLength() / stride;
  for (size_t i = 0; i < n; i++) {
    if (w[i * stride + offset] & mask) hits.push_back(static_cast<uint32_t>(i));
  }
  return TypedCopy(env, hits);
}

void InitScan(Napi::Env env, Napi::Object exports) {
  exports.Set("scanRouteText", Napi::Function::New(env, ScanRouteText, "scanRouteText"));
  exports.Set("flaggedWords", Napi::Function::New(env, FlaggedWords, "flaggedWords"));
}

}  // namespace pw
