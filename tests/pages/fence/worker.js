// A dedicated worker: its own fetch and its own WebSocket, outside the page's window.
const to = JSON.parse(decodeURIComponent(location.hash.slice(1)));
fetch(`http://${to.host}:${to.worker_fetch}/leak/worker_fetch`).catch(() => {});
try { new WebSocket(`ws://${to.host}:${to.worker_websocket}/leak/worker_websocket`); } catch (e) {}
