/** `--netns NAME`: this process acts in another network namespace, keeping the host's bpffs. */
export { enterNetnsForProcess as enterNetns } from '../kernel/netns.js';
