/* SPDX-License-Identifier: GPL-2.0 */
/*
 * clang emits BTF only for types that something in the object uses, and enums used only as
 * local variables are often optimised away. User space generates its codecs from the
 * object's BTF, so every ABI enum (and every struct only used through local pointers, such
 * as ring buffer records) that user space names must be anchored here: a pointer
 * global costs 8 bytes of .bss and keeps the type in BTF (cilium/ebpf's bpf2go documents the
 * same technique). Never read or written.
 */
#ifndef PATHWISE_BTF_ANCHOR_BPF_H
#define PATHWISE_BTF_ANCHOR_BPF_H

#define PW_BTF_ANCHOR(type, name) type *__pw_btf_anchor_##name __attribute__((unused))

#endif
