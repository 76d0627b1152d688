/** HTTP insight: the monitored ports and the copy length, switched with no reload. */
import type { Dataplane } from '../../dataplane/dataplane.js';
import { httpControl, setHttpControl, type HttpControl } from '../../dataplane/http-tables.js';
import type { Config } from '../config/schema.js';
import { Phase, type Reconciler } from '../reconcile.js';

export type HttpChange = { kind: 'http'; phase: number; before: HttpControl; after: HttpControl };

const httpText = (h: HttpControl) =>
  !h.enabled
    ? 'off'
    : `${h.allPorts ? 'every TCP port' : `TCP ports ${[...h.ports].sort((a, b) => a - b).join(',')}`}, ${h.snap} bytes per segment`;

export const httpReconciler: Reconciler<HttpControl, HttpControl, HttpChange> = {
  kinds: ['http'],
  desired: (cfg: Config) => {
    const h = cfg.insight.http;
    return { enabled: h.ports.length > 0, allPorts: false, ports: [...new Set(h.ports)], snap: h.snap };
  },
  running: (dp: Dataplane) => httpControl(dp.pipeline.maps),
  plan: (r, d) => (httpText(r) !== httpText(d) ? [{ kind: 'http', phase: Phase.EVENTS, before: r, after: d }] : []),
  apply(c, t) {
    setHttpControl(t.dp().pipeline.maps, c.after);
    return () => setHttpControl(t.dp().pipeline.maps, c.before);
  },
  summarize: (c) => ({ kind: c.kind, op: 'replace', key: 'insight.http', before: httpText(c.before), after: httpText(c.after) }),
};
