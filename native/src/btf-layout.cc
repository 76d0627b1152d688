// Map layouts from BTF: what a map's key and value types are, field by field, as the kernel
// holds them for a pinned map and as an object file declares them. A program upgrade keeps a
// map's contents only when both layouts are the same type (not merely the same size: a field
// renamed or retyped in place changes its meaning), and moves fields by name otherwise.
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "common.h"

namespace pw {

void ObjInfo(Napi::Env env, int fd, void* info, uint32_t size, const std::string& detail) {
  uint32_t len = size;
  if (bpf_obj_get_info_by_fd(fd, info, &len)) ThrowErrno(env, errno, "bpf_obj_get_info_by_fd", detail);
}

struct btf* KernelBtf(Napi::Env env, uint32_t id) {
  btf* b = btf__load_from_kernel_by_id(id);
  if (!b) ThrowErrno(env, errno, "btf__load_from_kernel_by_id", "BTF " + std::to_string(id));
  return b;
}

namespace {

// A canonical text of a type: sizes, offsets, member names and member types, with typedefs and
// qualifiers looked through. Two maps hold the same thing when their texts are equal.
std::string Signature(const btf* b, uint32_t id, int depth = 0) {
  if (depth > 32) return "...";
  const btf_type* t = btf__type_by_id(b, id);
  if (!t) return "?";
  switch (btf_kind(t)) {
    case BTF_KIND_INT:
      return std::string(btf_int_encoding(t) & BTF_INT_SIGNED ? "s" : "u") + std::to_string(btf_int_bits(t));
    case BTF_KIND_TYPEDEF:
    case BTF_KIND_VOLATILE:
    case BTF_KIND_CONST:
    case BTF_KIND_RESTRICT:
    case BTF_KIND_TYPE_TAG:
      return Signature(b, t->type, depth + 1);
    case BTF_KIND_PTR:
      return "ptr";
    case BTF_KIND_ARRAY: {
      const struct btf_array* a = btf_array(t);
      return Signature(b, a->type, depth + 1) + "[" + std::to_string(a->nelems) + "]";
    }
    case BTF_KIND_ENUM:
    case BTF_KIND_ENUM64:
      return "enum" + std::to_string(t->size);
    case BTF_KIND_VAR:
      return Signature(b, t->type, depth + 1);
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION: {
      std::string s = btf_kind(t) == BTF_KIND_STRUCT ? "struct{" : "union{";
      const btf_member* m = btf_members(t);
      for (uint16_t i = 0; i < btf_vlen(t); i++, m++) {
        const char* name = btf__name_by_offset(b, m->name_off);
        s += std::string(name ? name : "") + "@" + std::to_string(btf_member_bit_offset(t, i));
        uint32_t bits = btf_member_bitfield_size(t, i);
        if (bits) s += ":" + std::to_string(bits);
        s += "=" + Signature(b, m->type, depth + 1) + ";";
      }
      return s + "}" + std::to_string(t->size);
    }
    default:
      return "kind" + std::to_string(btf_kind(t)) + "/" + std::to_string(t->size);
  }
}

// { signature, fields: [{ name, offset, size, signature }] } (fields: a struct's or union's
// top-level members, whole bytes only), or null for no type.
Napi::Value Layout(Napi::Env env, const btf* b, uint32_t id) {
  if (!b || !id) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("signature", Signature(b, id));
  Napi::Array fields = Napi::Array::New(env);
  const btf_type* t = btf__type_by_id(b, id);
  while (t && (btf_is_typedef(t) || btf_is_mod(t))) t = btf__type_by_id(b, t->type);
  if (t && (btf_is_struct(t) || btf_is_union(t))) {
    const btf_member* m = btf_members(t);
    uint32_t n = 0;
    for (uint16_t i = 0; i < btf_vlen(t); i++, m++) {
      uint32_t bit = btf_member_bit_offset(t, i);
      if (btf_member_bitfield_size(t, i) || bit % 8) continue;
      long size = btf__resolve_size(b, m->type);
      if (size < 0) continue;
      Napi::Object f = Napi::Object::New(env);
      const char* name = btf__name_by_offset(b, m->name_off);
      f.Set("name", name ? name : "");
      f.Set("offset", (double)(bit / 8));
      f.Set("size", (double)size);
      f.Set("signature", Signature(b, m->type));
      fields.Set(n++, f);
    }
  }
  if (t && btf_is_datasec(t)) {
    // A global data section (.rodata, .data): its variables, by name and offset.
    const btf_var_secinfo* v = btf_var_secinfos(t);
    for (uint16_t i = 0; i < btf_vlen(t); i++, v++) {
      const btf_type* var = btf__type_by_id(b, v->type);
      if (!var) continue;
      Napi::Object f = Napi::Object::New(env);
      const char* name = btf__name_by_offset(b, var->name_off);
      f.Set("name", name ? name : "");
      f.Set("offset", (double)v->offset);
      f.Set("size", (double)v->size);
      f.Set("signature", Signature(b, var->type));
      fields.Set(fields.Length(), f);
    }
  }
  o.Set("fields", fields);
  return o;
}

Napi::Object KeyValue(Napi::Env env, const btf* b, uint32_t key, uint32_t value) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("key", Layout(env, b, key));
  o.Set("value", Layout(env, b, value));
  return o;
}

}  // namespace

// mapLayout(fd) -> { key, value } (each null when the map has no BTF for it)
static Napi::Value MapLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt(info, 0, "fd");
  bpf_map_info mi{};
  ObjInfo(env, fd, &mi, sizeof(mi));
  if (!mi.btf_id) return KeyValue(env, nullptr, 0, 0);
  btf* b = KernelBtf(env, mi.btf_id);
  Napi::Object o = KeyValue(env, b, mi.btf_key_type_id, mi.btf_value_type_id);
  btf__free(b);
  return o;
}

// objectMapLayouts(path) -> { [map]: { key, value } }, read from the object file without loading it.
static Napi::Value ObjectMapLayouts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ArgString(info, 0, "path");
  bpf_object* obj = bpf_object__open_file(path.c_str(), nullptr);
  if (!obj) ThrowErrno(env, errno, "bpf_object__open_file", path);
  Napi::Object out = Napi::Object::New(env);
  const btf* b = bpf_object__btf(obj);
  bpf_map* m;
  bpf_object__for_each_map(m, obj) {
    if (bpf_map__is_internal(m)) continue;
    out.Set(bpf_map__name(m), KeyValue(env, b, bpf_map__btf_key_type_id(m), bpf_map__btf_value_type_id(m)));
  }
  bpf_object__close(obj);
  return out;
}

// progMapIds(fd) -> the ids of the maps a loaded program uses.
static Napi::Value ProgMapIds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt(info, 0, "fd");
  bpf_prog_info pi{};
  ObjInfo(env, fd, &pi, sizeof(pi));
  std::vector<uint32_t> ids(pi.nr_map_ids);
  if (!ids.empty()) {
    uint32_t n = pi.nr_map_ids;
    pi = {};
    pi.nr_map_ids = n;
    pi.map_ids = reinterpret_cast<uint64_t>(ids.data());
    ObjInfo(env, fd, &pi, sizeof(pi));
    ids.resize(std::min(n, pi.nr_map_ids));
  }
  Napi::Array out = Napi::Array::New(env, ids.size());
  for (size_t i = 0; i < ids.size(); i++) out.Set(static_cast<uint32_t>(i), (double)ids[i]);
  return out;
}

void InitBtfLayout(Napi::Env env, Napi::Object exports) {
  exports.Set("mapLayout", Napi::Function::New(env, MapLayout));
  exports.Set("objectMapLayouts", Napi::Function::New(env, ObjectMapLayouts));
  exports.Set("progMapIds", Napi::Function::New(env, ProgMapIds));
}

}  // namespace pw
