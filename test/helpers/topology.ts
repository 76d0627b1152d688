/** The tests' topologies: the shared namespace lab (src/netlab). */
export { Topology, sh } from '../../src/netlab/topology.js';
