// A shared worker: not attached to the page, so Playwright's route never sees its requests.
const to = JSON.parse(decodeURIComponent(location.hash.slice(1)));
fetch(`http://${to.host}:${to.shared_worker}/leak/shared_worker`).catch(() => {});
try { new WebSocket(`ws://${to.host}:${to.shared_worker_websocket}/leak/shared_worker_websocket`); } catch (e) {}
