// The offline app shell, from the scan page's side: registers the service worker (served at /sw.js, see
// static/js/service_worker.js) and asks it to keep this page. Without service workers (plain http on a LAN
// is not a secure context) the page still queues its scans; only a reload with no network fails.

export function registerShell(workerUrl) {
  if (!workerUrl || !("serviceWorker" in navigator)) return;
  // updateViaCache "none": the browser asks the server for /sw.js at each load, so a release arrives at once.
  navigator.serviceWorker.register(workerUrl, { scope: "/", updateViaCache: "none" }).catch(() => {});
  navigator.serviceWorker.ready.then((registration) => {
    if (registration.active) registration.active.postMessage({ type: "keep-page" });
  });
}
