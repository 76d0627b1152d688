/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pipeline's load-time settings: one `const volatile` variable in .rodata, which the
 * loader fills before the verifier runs, so a disabled feature is dead code. Defined in a
 * header of its own so that every stage can read it; one BPF object includes it once.
 */
#ifndef PATHWISE_SETTINGS_BPF_H
#define PATHWISE_SETTINGS_BPF_H

#include "pathwise/abi.h"

const volatile struct pw_settings pw_settings = {};

#endif /* PATHWISE_SETTINGS_BPF_H */
