/**
 * Captures inside the pipeline: started on a data plane (the daemon's GET /v1/capture), or run
 * whole in this process on an instance's pinned pipeline when no daemon serves it.
 */
import { CaptureSession } from '../dataplane/capture-slot.js';
import { Dataplane } from '../dataplane/dataplane.js';
import type { CapturedRecord, CaptureOptions } from '../insight/capture-record.js';
import type { CaptureRequest, StreamHooks } from './operations.js';

export type { CaptureSession };

/** Puts a capture in the pipeline's slot (one per instance: PW_ERR_BUSY when taken). */
export const startCapture = (dp: Dataplane, opts: CaptureOptions): CaptureSession => CaptureSession.start(dp, opts);

export async function captureLocal(
  instance: string,
  req: CaptureRequest,
  hooks: StreamHooks<CapturedRecord>,
): Promise<{ captured: number; lost: number }> {
  const dp = await Dataplane.open(instance, {}, { create: false });
  let session: CaptureSession | undefined;
  let captured = 0;
  let timer: NodeJS.Timeout | null = null;
  const stop = () => session?.stop();
  try {
    session = CaptureSession.start(dp, req);
    const lostAtStart = session.lost();
    hooks.signal.addEventListener('abort', stop, { once: true });
    if (req.duration) timer = setTimeout(stop, req.duration * 1000);
    hooks.started(`instance ${instance}`);
    if (!hooks.signal.aborted) {
      for await (const r of session.records()) {
        hooks.item(r);
        if (++captured === req.count) break;
      }
    }
    return { captured, lost: session.lost() - lostAtStart };
  } finally {
    if (timer) clearTimeout(timer);
    hooks.signal.removeEventListener('abort', stop);
    session?.stop();
    dp.close();
  }
}
