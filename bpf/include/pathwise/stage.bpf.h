/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PW_STAGE marks a pipeline stage compiled as a global function. The verifier checks a global
 * function once, on its own, and its caller sees one returned scalar instead of every state
 * the stage can end in. Inlined, the guard's states multiplied through routing and accounting
 * and took the pipeline with filtering and flows to 910,000 of the verifier's 1,000,000
 * instructions; as stages it needs under 200,000 (test/bpf/pipeline-load checks the headroom).
 * Each stage's stack frame is also its own, which keeps the deepest call chain under 512 bytes.
 *
 * What it costs: a stage's pointer arguments may be NULL to the verifier (stages check), and
 * the caller gets back what they point to as unknown values, so later stages bound what they
 * read as they would packet data. The BTF tag tells the codec generator (scripts/btf-codegen)
 * that the function is not a program.
 */
#ifndef PATHWISE_STAGE_BPF_H
#define PATHWISE_STAGE_BPF_H

#define PW_STAGE __attribute__((noinline)) __attribute__((btf_decl_tag("pathwise:stage")))

#endif
