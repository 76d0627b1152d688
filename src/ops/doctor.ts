/** `pathwise doctor`: can this machine run Pathwise, and which XDP modes each interface supports. */
export { runDoctor, type CheckStatus, type DoctorReport, type ModeReport } from '../dataplane/doctor.js';
