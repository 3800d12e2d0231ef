// Editing sessions for the history panel: versions made less than GAP
// apart join one session, which runs at most SPAN, as Google Docs groups
// its version history. Pure, so that it is tested without a browser.

export const GAP = 5 * 60 * 1000; // a pause this long starts a new session
export const SPAN = 60 * 60 * 1000; // and no session runs longer

// sessionsOf splits ops (newest first, each with created_at) into editing
// sessions, newest first; each session is its ops, newest first.
export function sessionsOf(ops) {
  const out = [];
  let cur = null;
  for (const op of ops) {
    const t = Date.parse(op.created_at);
    if (cur && cur.oldest - t <= GAP && cur.newest - t <= SPAN) {
      cur.ops.push(op);
      cur.oldest = t;
    } else {
      cur = { ops: [op], oldest: t, newest: t };
      out.push(cur);
    }
  }
  return out.map((s) => s.ops);
}
