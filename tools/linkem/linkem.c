// SPDX-License-Identifier: MIT
/*
 * linkem: a link emulator for Pathwise's tests (this kernel has no sch_netem).
 *
 * Bridges two interfaces at layer 2 from user space — every frame received on one is sent
 * out of the other — and delays, jitters or drops the frames of each direction as told, with
 * the settings changeable while it runs. Run it in a namespace that holds both interfaces:
 *
 *   linkem IF_A IF_B            then, one command per line on stdin:
 *   set a2b|b2a|both [delay=MS] [jitter=MS] [loss=PCT] [reorder=0|1]
 *   stats                       -> one JSON line of counters
 *   quit
 *
 * Every command is answered with one line ("ok", a JSON object, or "error: ..."); "ready" is
 * printed once both sockets are bound. Delay is per frame: now + delay + uniform(-jitter,
 * +jitter), each frame drawn on its own, so frames closer together than the jitter may leave
 * in another order — as netem does (`reorder=0` keeps the order instead, which holds a frame
 * behind any earlier one drawn later: on a busy link that skews every delay upwards). Loss is
 * independent per frame.
 *
 * A frame's delay counts from when the kernel received it (its socket timestamp), not from when
 * this process got round to reading it, and the process asks for real-time scheduling: on a
 * busy machine both would otherwise add the wait for a CPU to every delay.
 *
 * Frames larger than the egress MTU (offloads left on: GRO/TSO super-frames) cannot be sent
 * and are counted as `oversize`; the tests turn offloads off on the emulated links.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SLOT_BYTES 2048
#define QUEUE_SLOTS 16384

struct frame {
	uint64_t release_ns;
	uint64_t order; /* arrival order: ties in release time leave in it */
	uint16_t len;
	uint8_t data[SLOT_BYTES];
};

struct direction {
	const char *name;
	int in_fd, out_fd;
	int out_ifindex;
	unsigned out_mtu;
	double delay_ms, jitter_ms, loss;
	int reorder;
	uint64_t last_release_ns, arrivals;
	struct frame *slots;
	uint32_t *free_list, n_free; /* slots not in use */
	uint32_t *heap, n_heap;      /* slots waiting, a min-heap by (release_ns, order) */
	uint64_t rx, tx, lost, oversize, overflow, send_errors;
};

static uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint64_t now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/*
 * Reads one frame into buf; *arrival is when the kernel received it, on the monotonic clock.
 * The socket's timestamp is wall-clock time: it is moved to the monotonic clock by the two
 * clocks' difference now (a step of the wall clock between the two readings is not worth
 * guarding against in a test tool; a timestamp in the future is clamped to now).
 */
static ssize_t recv_frame(int fd, void *buf, size_t size, uint64_t *arrival)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
	ssize_t n = recvmsg(fd, &msg, MSG_TRUNC);
	uint64_t mono = now_ns();

	*arrival = mono;
	if (n < 0)
		return n;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;
			uint64_t real, stamp;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			stamp = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
			real = clock_ns(CLOCK_REALTIME);
			if (stamp && stamp <= real && real - stamp < mono)
				*arrival = mono - (real - stamp);
		}
	}
	return n;
}

/* xorshift64*: fast and good enough for loss and jitter draws. */
static uint64_t rng_state;
static double uniform01(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double)((rng_state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static int open_port(const char *ifname, int *ifindex, unsigned *mtu)
{
	struct sockaddr_ll sll = { 0 };
	struct packet_mreq mr = { 0 };
	struct ifreq ifr = { 0 };
	int one = 1, fd;

	*ifindex = if_nametoindex(ifname);
	if (!*ifindex) {
		fprintf(stderr, "linkem: no interface named '%s'\n", ifname);
		return -1;
	}
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
	if (fd < 0) {
		perror("linkem: socket(AF_PACKET)");
		return -1;
	}
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = *ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror("linkem: bind");
		return -1;
	}
	/* Our own transmissions on this interface are not frames to forward. */
	if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0) {
		perror("linkem: PACKET_IGNORE_OUTGOING");
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0) {
		perror("linkem: SO_TIMESTAMPNS");
		return -1;
	}
	mr.mr_ifindex = *ifindex;
	mr.mr_type = PACKET_MR_PROMISC;
	if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
		perror("linkem: promiscuous mode");
		return -1;
	}
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	*mtu = ioctl(fd, SIOCGIFMTU, &ifr) == 0 ? (unsigned)ifr.ifr_mtu : 1500;
	return fd;
}

static int earlier(const struct direction *d, uint32_t a, uint32_t b)
{
	const struct frame *x = &d->slots[a], *y = &d->slots[b];

	return x->release_ns < y->release_ns || (x->release_ns == y->release_ns && x->order < y->order);
}

static void heap_push(struct direction *d, uint32_t slot)
{
	uint32_t i = d->n_heap++;

	d->heap[i] = slot;
	while (i && earlier(d, d->heap[i], d->heap[(i - 1) / 2])) {
		uint32_t p = (i - 1) / 2, t = d->heap[p];

		d->heap[p] = d->heap[i];
		d->heap[i] = t;
		i = p;
	}
}

static uint32_t heap_pop(struct direction *d)
{
	uint32_t top = d->heap[0], i = 0;

	d->heap[0] = d->heap[--d->n_heap];
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i, t;

		if (l < d->n_heap && earlier(d, d->heap[l], d->heap[m]))
			m = l;
		if (r < d->n_heap && earlier(d, d->heap[r], d->heap[m]))
			m = r;
		if (m == i)
			return top;
		t = d->heap[m];
		d->heap[m] = d->heap[i];
		d->heap[i] = t;
		i = m;
	}
}

static void receive(struct direction *d)
{
	for (;;) {
		struct frame *f;
		uint64_t arrival;
		uint32_t slot;
		ssize_t n;

		if (!d->n_free) {
			/* Queue full: read the frame to drop it. */
			static uint8_t sink[65536];

			n = recv(d->in_fd, sink, sizeof(sink), MSG_TRUNC);
			if (n < 0)
				return;
			d->rx++;
			d->overflow++;
			continue;
		}
		slot = d->free_list[d->n_free - 1];
		f = &d->slots[slot];
		n = recv_frame(d->in_fd, f->data, sizeof(f->data), &arrival);
		if (n < 0)
			return;
		d->rx++;
		if ((size_t)n > sizeof(f->data) || (unsigned)n > d->out_mtu + 18) {
			d->oversize++;
			continue;
		}
		if (d->loss > 0 && uniform01() * 100.0 < d->loss) {
			d->lost++;
			continue;
		}
		{
			double extra = d->delay_ms + (d->jitter_ms > 0 ? (uniform01() * 2 - 1) * d->jitter_ms : 0);
			uint64_t release = arrival + (extra > 0 ? (uint64_t)(extra * 1e6) : 0);

			if (!d->reorder && release < d->last_release_ns)
				release = d->last_release_ns;
			d->last_release_ns = release;
			f->release_ns = release;
			f->order = d->arrivals++;
			f->len = (uint16_t)n;
			d->n_free--;
			heap_push(d, slot);
		}
	}
}

/* Sends what is due; returns the release time of the next frame (0: queue empty). */
static uint64_t transmit(struct direction *d, uint64_t now)
{
	while (d->n_heap) {
		struct frame *f = &d->slots[d->heap[0]];

		if (f->release_ns > now)
			return f->release_ns;
		if (send(d->out_fd, f->data, f->len, 0) < 0) {
			if (errno == EAGAIN || errno == ENOBUFS)
				return now + 20000; /* the device is busy: try again shortly */
			d->send_errors++;
		} else {
			d->tx++;
		}
		d->free_list[d->n_free++] = heap_pop(d);
	}
	return 0;
}

static int apply_setting(struct direction *d, const char *kv)
{
	char *end;
	double v;

	if (!strncmp(kv, "delay=", 6)) {
		v = strtod(kv + 6, &end);
		if (*end || v < 0 || v > 60000)
			return -1;
		d->delay_ms = v;
	} else if (!strncmp(kv, "jitter=", 7)) {
		v = strtod(kv + 7, &end);
		if (*end || v < 0 || v > 60000)
			return -1;
		d->jitter_ms = v;
	} else if (!strncmp(kv, "reorder=", 8)) {
		if (strcmp(kv + 8, "0") && strcmp(kv + 8, "1"))
			return -1;
		d->reorder = kv[8] == '1';
	} else if (!strncmp(kv, "loss=", 5)) {
		v = strtod(kv + 5, &end);
		if (*end || v < 0 || v > 100)
			return -1;
		d->loss = v;
	} else {
		return -1;
	}
	return 0;
}

static void print_stats(struct direction *dirs)
{
	printf("{");
	for (int i = 0; i < 2; i++) {
		struct direction *d = &dirs[i];

		printf("%s\"%s\":{\"rx\":%llu,\"tx\":%llu,\"lost\":%llu,\"oversize\":%llu,\"overflow\":%llu,"
		       "\"sendErrors\":%llu,\"queued\":%u,\"delay\":%g,\"jitter\":%g,\"loss\":%g,\"reorder\":%d}",
		       i ? "," : "", d->name, (unsigned long long)d->rx, (unsigned long long)d->tx,
		       (unsigned long long)d->lost, (unsigned long long)d->oversize,
		       (unsigned long long)d->overflow, (unsigned long long)d->send_errors,
		       d->n_heap, d->delay_ms, d->jitter_ms, d->loss, d->reorder);
	}
	printf("}\n");
}

/* Handles one line from stdin; returns 0 to go on, 1 to quit. */
static int command(struct direction *dirs, char *line)
{
	char *save = NULL, *word = strtok_r(line, " \t\r\n", &save);

	if (!word)
		return 0;
	if (!strcmp(word, "quit"))
		return 1;
	if (!strcmp(word, "stats")) {
		print_stats(dirs);
		return 0;
	}
	if (!strcmp(word, "set")) {
		char *which = strtok_r(NULL, " \t\r\n", &save);
		struct direction trial[2] = { dirs[0], dirs[1] };
		int first, last;

		if (!which || (strcmp(which, "a2b") && strcmp(which, "b2a") && strcmp(which, "both"))) {
			printf("error: set needs a direction: a2b, b2a or both\n");
			return 0;
		}
		first = !strcmp(which, "b2a") ? 1 : 0;
		last = !strcmp(which, "a2b") ? 0 : 1;
		/* Applied to a copy first: a bad word changes nothing. */
		for (char *kv; (kv = strtok_r(NULL, " \t\r\n", &save));) {
			for (int i = first; i <= last; i++) {
				if (apply_setting(&trial[i], kv)) {
					printf("error: bad setting '%s' (delay=MS, jitter=MS, loss=PCT 0-100, reorder=0|1)\n", kv);
					return 0;
				}
			}
		}
		for (int i = first; i <= last; i++) {
			dirs[i].delay_ms = trial[i].delay_ms;
			dirs[i].jitter_ms = trial[i].jitter_ms;
			dirs[i].loss = trial[i].loss;
			dirs[i].reorder = trial[i].reorder;
		}
		printf("ok\n");
		return 0;
	}
	printf("error: unknown command '%s' (set, stats, quit)\n", word);
	return 0;
}

int main(int argc, char **argv)
{
	struct direction dirs[2] = { { .name = "a2b" }, { .name = "b2a" } };
	int ifa, ifb, fda, fdb;
	unsigned mtua, mtub;
	char line[512];
	size_t used = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: linkem IF_A IF_B (commands on stdin: set a2b|b2a|both delay=MS jitter=MS loss=PCT reorder=0|1; stats; quit)\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	/* Timer wake-ups to the microsecond: the default 50 us slack would blur the delays. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	/*
	 * Real-time priority, so that a frame due leaves when due although other processes want the
	 * CPU (netem's timers run in the kernel). The loop sleeps between frames, and the kernel's
	 * real-time throttling bounds it anyway. Without the privilege it runs as it is.
	 */
	{
		struct sched_param sp = { .sched_priority = 10 };

		if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0)
			fprintf(stderr, "linkem: no real-time scheduling (%s): delays may run late under load\n", strerror(errno));
	}
	rng_state = now_ns() ^ ((uint64_t)getpid() << 32);
	if (!rng_state)
		rng_state = 1;
	fda = open_port(argv[1], &ifa, &mtua);
	fdb = open_port(argv[2], &ifb, &mtub);
	if (fda < 0 || fdb < 0)
		return 1;
	dirs[0].in_fd = fda, dirs[0].out_fd = fdb, dirs[0].out_ifindex = ifb, dirs[0].out_mtu = mtub;
	dirs[1].in_fd = fdb, dirs[1].out_fd = fda, dirs[1].out_ifindex = ifa, dirs[1].out_mtu = mtua;
	for (int i = 0; i < 2; i++) {
		dirs[i].reorder = 1;
		dirs[i].slots = calloc(QUEUE_SLOTS, sizeof(struct frame));
		dirs[i].free_list = calloc(QUEUE_SLOTS, sizeof(uint32_t));
		dirs[i].heap = calloc(QUEUE_SLOTS, sizeof(uint32_t));
		for (uint32_t k = 0; k < QUEUE_SLOTS && dirs[i].free_list; k++)
			dirs[i].free_list[k] = k;
		dirs[i].n_free = QUEUE_SLOTS;
		if (!dirs[i].slots || !dirs[i].free_list || !dirs[i].heap) {
			fprintf(stderr, "linkem: out of memory\n");
			return 1;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready\n");

	for (;;) {
		struct pollfd pfd[3] = {
			{ .fd = fda, .events = POLLIN },
			{ .fd = fdb, .events = POLLIN },
			{ .fd = 0, .events = POLLIN },
		};
		uint64_t now = now_ns(), next = 0;
		struct timespec timeout, *tp = NULL;

		for (int i = 0; i < 2; i++) {
			uint64_t t = transmit(&dirs[i], now);

			if (t && (!next || t < next))
				next = t;
		}
		if (next) {
			uint64_t wait = next > now ? next - now : 0;

			timeout.tv_sec = wait / 1000000000ull;
			timeout.tv_nsec = wait % 1000000000ull;
			tp = &timeout;
		}
		if (ppoll(pfd, 3, tp, NULL) < 0) {
			if (errno == EINTR)
				continue;
			perror("linkem: ppoll");
			return 1;
		}
		if (pfd[0].revents & POLLIN)
			receive(&dirs[0]);
		if (pfd[1].revents & POLLIN)
			receive(&dirs[1]);
		if (pfd[2].revents & (POLLIN | POLLHUP)) {
			ssize_t n = read(0, line + used, sizeof(line) - 1 - used);
			char *nl;

			if (n <= 0)
				return 0; /* stdin closed: the test that started us is gone */
			used += n;
			line[used] = 0;
			while ((nl = strchr(line, '\n'))) {
				*nl = 0;
				if (command(dirs, line))
					return 0;
				used -= nl + 1 - line;
				memmove(line, nl + 1, used + 1);
			}
			if (used == sizeof(line) - 1) {
				printf("error: command too long\n");
				used = 0;
			}
		}
		if (pfd[0].revents & (POLLERR | POLLNVAL) || pfd[1].revents & (POLLERR | POLLNVAL)) {
			fprintf(stderr, "linkem: an interface went away\n");
			return 1;
		}
	}
}
