/** `pathwise doctor`: can this machine run Pathwise, and which XDP modes each interface supports. */
export { runDoctor, type CheckStatus, type DoctorReport } from '../dataplane/doctor.js';
