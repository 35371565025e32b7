// The offline app shell's service worker, served at /sw.js (scanning.views.service_worker puts SHELL in
// front of this file: the release's version, the static files to keep, the scan page's and the offline
// page's URLs), so it controls the whole site and /scan/ with it.
//
// What it keeps: the static files (cache first: their names change with their content in production),
// the scripts' catalog in each language (cache first: the version changes with their words) and, network first, the scan page of whoever is logged in, so the page opens with no network; never an
// API answer or any other page. With no network and no page kept (after a logout) it shows the offline note. The scan page holds its user's config, so the pages' cache is emptied when
// anyone goes to the login or logout page, and the queue it fills lives in IndexedDB under the user's id.
// A new release has a new version: the next load installs this worker again, and the old caches go.
/* global SHELL */

const STATIC_CACHE = `tt-static-${SHELL.version}`;
const PAGE_CACHE = `tt-page-${SHELL.version}`;
// A scan page the network has not sent by then comes from the cache (a Wi-Fi that takes the request and
// never answers holds a loader up for no reason).
const NETWORK_WAIT_MS = 4000;

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(STATIC_CACHE);
      await cache.addAll([...SHELL.static, ...SHELL.catalogs, SHELL.offline]);
      await self.skipWaiting();
    })(),
  );
});

// The last release's caches go. If it kept the scan page (nobody has logged out since), the page is fetched
// again for this release's cache: it names the new static files.
self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      let hadPage = false;
      for (const name of await caches.keys()) {
        if (name === STATIC_CACHE || name === PAGE_CACHE) continue;
        if (name.startsWith("tt-page-")) hadPage = hadPage || Boolean(await (await caches.open(name)).match(SHELL.page));
        await caches.delete(name);
      }
      await self.clients.claim();
      if (hadPage) await fetch(SHELL.page).then((response) => keepPage(SHELL.page, response), () => {});
    })(),
  );
});

function forgetPages() {
  return caches.delete(PAGE_CACHE);
}

// Only the scan page itself, as its user got it: not a redirect to the login page, not an error.
async function keepPage(url, response) {
  if (!response.ok || response.redirected || response.type !== "basic") return;
  const cache = await caches.open(PAGE_CACHE);
  await cache.put(url, response);
}

async function scanPage(request) {
  const cached = caches.open(PAGE_CACHE).then((cache) => cache.match(SHELL.page));
  const network = fetch(request).then(async (response) => {
    await keepPage(SHELL.page, response.clone());
    return response;
  });
  network.catch(() => {}); // answered below; a late failure after the cached page was sent is no error
  const timeout = new Promise((resolve) => setTimeout(resolve, NETWORK_WAIT_MS));
  try {
    const first = await Promise.race([network, timeout.then(() => cached)]);
    if (first) return first;
    return await network;
  } catch {
    return (await cached) || offlinePage();
  }
}

async function offlinePage() {
  const cache = await caches.open(STATIC_CACHE);
  return (await cache.match(SHELL.offline)) || Response.error();
}

async function staticFile(request) {
  const cache = await caches.open(STATIC_CACHE);
  const cached = await cache.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && SHELL.forget.includes(url.pathname)) {
    event.waitUntil(forgetPages()); // the network answers as usual
    return;
  }
  if (request.method !== "GET") return;
  // Other pages go to the network untouched (an export's long download never passes through this worker).
  if (request.mode === "navigate" && url.pathname === SHELL.page) {
    event.respondWith(scanPage(request));
  } else if (url.pathname.startsWith(SHELL.static_prefix) || SHELL.catalogs.includes(url.pathname + url.search)) {
    event.respondWith(staticFile(request));
  }
});

// The scan page says it is open: on its first load it came from the network before this worker took the
// page over, so this worker fetches it once more for the cache.
self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "keep-page") {
    event.waitUntil(
      (async () => {
        const cache = await caches.open(PAGE_CACHE);
        if (await cache.match(SHELL.page)) return;
        await keepPage(SHELL.page, await fetch(SHELL.page, { credentials: "same-origin" }));
      })(),
    );
  }
});
