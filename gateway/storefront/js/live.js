// Live updates: a page follows a stream of Server-Sent Events from the API (an order's journey,
// a seller's changes). The stream is read with fetch, because EventSource cannot send the
// bearer token. When it ends it is opened again; while it cannot be opened, the page asks
// every few seconds instead (`poll`), and tries the stream again now and then.

import { sessionHeaders } from './api.js';
import { say } from './dom.js';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

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

/**
 * Follows `path` while `view` is shown.
 * - `onEvent(event, data)`: each event (awaited: one at a time, in order);
 * - `poll()`: asks once; run every `pollEvery` ms while the stream is down;
 * - `finished()`: true once nothing more will come (the stream is not opened again);
 * - `onState(mode)`: 'live' or 'polling', to tell the visitor.
 * A `404` is retried quickly a few times first (the read side may not have the order yet);
 * a `401` ends it (the api module has signed out and said so).
 */
export function follow(view, path, { onEvent, poll, pollEvery, finished = () => false, onState = () => {} }) {
  const abort = new AbortController();
  view.onClose(() => abort.abort());
  let polling = null;
  const startPolling = () => {
    if (polling) return;
    onState('polling');
    polling = setInterval(() => { if (!document.hidden) poll().catch(() => {}); }, pollEvery);
    view.onClose(() => clearInterval(polling));
  };
  const stopPolling = () => {
    clearInterval(polling);
    polling = null;
  };
  (async () => {
    let failures = 0;
    while (view.active && !finished()) {
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
          failures = 0;
          stopPolling();
          onState('live');
          for await (const { event, data } of events(answer.body)) {
            try {
              await onEvent(event, data);
            } catch (error) {
              if (view.active && error.status !== 401) say(error.message);
            }
          }
          await sleep(250); // ended by the server (its life, or a restart): open it again
          continue;
        }
        await answer.body?.cancel();
      } catch {
        if (abort.signal.aborted) return;
      }
      failures += 1;
      if (status === 404 && failures <= 20) {
        await sleep(150);
        continue;
      }
      startPolling();
      await sleep(Math.min(30_000, 1000 * 2 ** Math.min(failures, 5)));
    }
  })();
}
