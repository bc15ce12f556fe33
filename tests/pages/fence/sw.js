// A service worker: contexts block them, so this never runs; if it did, its fetch would be off-origin too.
const to = JSON.parse(decodeURIComponent(location.search.slice(1)));
fetch(`http://${to.host}:${to.service_worker}/leak/service_worker`).catch(() => {});
