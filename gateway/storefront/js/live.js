// Live updates: a page follows a stream of Server-Sent Events from the API (an order's journey,
// a seller's changes). The stream is read with fetch, because EventSource cannot send the
// bearer token. When it ends it is opened again; while it cannot be opened, the page asks
// every few seconds instead (`poll`), and tries the stream again now and then. A hidden tab
// closes its stream (a browser keeps only six connections to a site) and catches up when shown.

import { sessionHeaders } from './api.js';
import { say } from './dom.js';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once the tab is visible. */
const visible = () => (document.hidden
  ? new Promise((resolve) => document.addEventListener('visibilitychange', function shown() {
    if (document.hidden) return;
    document.removeEventListener('visibilitychange', shown);
    resolve();
  }))
  : Promise.resolve());

/** The events of a `text/event-stream` body: {event, data} with data parsed as JSON. */
async function* events(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length) yield { event, data: JSON.parse(data.join('\n')) };
    }
  }
}

/** `poll` every `ms` while started (and the tab is visible), one run at a time. */
function poller(view, poll, ms) {
  let timer = null;
  let running = false;
  const stop = () => {
    clearInterval(timer);
    timer = null;
  };
  view.onClose(stop);
  return {
    start() {
      if (timer || !view.active) return;
      timer = setInterval(async () => {
        if (running || document.hidden) return;
        running = true;
        await poll().catch(() => {});
        running = false;
      }, ms);
    },
    stop,
  };
}

/**
 * Follows `path` while `view` is shown.
 * - `onEvent(event, data)`: each event (awaited: one at a time, in order);
 * - `poll()`: asks once; run every `pollEvery` ms while the stream is down;
 * - `finished()`: true once nothing more will come (the stream is closed, not opened again);
 * - `onState(mode)`: 'live' or 'polling', to tell the visitor.
 * A `404` is retried quickly a few times first (the read side may not have the order yet);
 * a `401` ends it (the app says the session has ended).
 */
export function follow(view, path, { onEvent, poll, pollEvery, finished = () => false, onState = () => {} }) {
  let abort = new AbortController();
  view.onClose(() => abort.abort());
  const hide = () => { if (document.hidden) abort.abort(); };
  document.addEventListener('visibilitychange', hide);
  view.onClose(() => document.removeEventListener('visibilitychange', hide));
  const polling = poller(view, poll, pollEvery);
  (async () => {
    let failures = 0;
    while (view.active && !finished()) {
      if (document.hidden) {
        await visible();
        if (!view.active) return;
        await poll().catch(() => {}); // what happened while hidden
      }
      abort = new AbortController();
      const opened = Date.now();
      let status = 0;
      try {
        const answer = await fetch(path, { headers: sessionHeaders({ accept: 'text/event-stream' }), signal: abort.signal });
        status = answer.status;
        if (status === 401) {
          await answer.body?.cancel();
          window.dispatchEvent(new CustomEvent('session-lost'));
          return;
        }
        if (answer.ok && answer.headers.get('content-type')?.startsWith('text/event-stream')) {
          polling.stop();
          onState('live');
          for await (const { event, data } of events(answer.body)) {
            try {
              await onEvent(event, data);
            } catch (error) {
              if (view.active && error.status !== 401) say(error.message);
            }
            if (finished()) {
              abort.abort();
              return;
            }
          }
          // Ended by the server (its life, or a restart): open it again, at once if it lived.
          failures = Date.now() - opened > 1000 ? 0 : failures + 1;
          await sleep(failures ? Math.min(30_000, 1000 * 2 ** Math.min(failures, 5)) : 250);
          continue;
        }
        await answer.body?.cancel();
      } catch {
        if (!view.active) return;
        if (abort.signal.aborted) continue; // hidden: wait until shown
      }
      failures += 1;
      if (status === 404 && failures <= 20) {
        await sleep(150);
        continue;
      }
      polling.start();
      onState('polling');
      await sleep(Math.min(30_000, 1000 * 2 ** Math.min(failures, 5)));
    }
  })();
}
