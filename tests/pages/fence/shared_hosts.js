// A shared worker naming hosts: Playwright's route never sees these, the proxy does.
fetch("http://shared-worker.leak.example/x").catch(() => {});
new WebSocket("ws://socket.leak.example/x");
