/* SPDX-License-Identifier: GPL-2.0 */
/* The balance stage's maps: services, backends, their Maglev tables, the connections tracked to
 * a backend and the replies to translate back. User space writes them through src/dataplane/
 * (service-table.ts) only; the stage writes pw_lb_ct, pw_lb_rnat and the counters. */
#ifndef PATHWISE_MAPS_BALANCE_BPF_H
#define PATHWISE_MAPS_BALANCE_BPF_H

#include "pathwise/abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PW_LB_MAX_SERVICES);
	__type(key, struct pw_lb_vip_key);
	__type(value, struct pw_lb_service);
} pw_lb_services SEC(".maps");

/* The addresses that have a service on some port (value: how many services): a fragment for
 * one of them carries no port to find its service by, and must not be routed as if it had none. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PW_LB_MAX_SERVICES);
	__type(key, struct pw_lb_vip_key);
	__type(value, __u32);
} pw_lb_vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PW_LB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct pw_lb_backend);
} pw_lb_backends SEC(".maps");

/* Every service's Maglev tables, slot -> backend id (0: none), mmap-ed by the control plane:
 * a table of 65537 slots is written at memory speed, then the service's entry points at it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PW_LB_TABLE_SLOTS / PW_LB_SLOTS_PER_ELEM);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct pw_lb_slots);
} pw_lb_maglev SEC(".maps");

/*
 * Connections and the backend each was sent to. One LRU shared by every CPU, not Katran's
 * per-CPU LRUs: a connection whose packets land on another CPU (RSS rehashed, an interface
 * added to the bond, a veth's NAPI thread moved) still finds its backend. Pinned, so a
 * daemon restart or a program upgrade keeps it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PW_LB_CT_MAX);
	__type(key, struct pw_lb_ct_key);
	__type(value, struct pw_lb_ct);
} pw_lb_ct SEC(".maps");

/* NAT mode: a backend's reply (its 5-tuple as it sends it) -> the service address to restore. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PW_LB_CT_MAX);
	__type(key, struct pw_lb_ct_key);
	__type(value, struct pw_lb_rnat);
} pw_lb_rnat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PW_LB_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct pw_lb_counter);
} pw_lb_service_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PW_LB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct pw_lb_counter);
} pw_lb_backend_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_lb_ctl);
} pw_lb_ctl SEC(".maps");

#endif /* PATHWISE_MAPS_BALANCE_BPF_H */
