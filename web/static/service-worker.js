// The app's service worker (served at /sw.js, its scope the whole site). The page and its assets are
// kept in a cache named by their version, so the last screens open with no connection; the API, the
// sign-in pages and everything else go to the network untouched. The server prepends
//   const VERSION = '<hash of the assets>'; const SHELL = ['/app/app.css', ...];
// so a new release installs a new cache, which takes over once no tab uses the old one.

const PREFIX = 'congress-app-';
const CACHE = PREFIX + VERSION;
const PAGE = '/';
// On a weak link the page from the network may take long: after this, the cached one is shown.
const PAGE_WAIT_MS = 3000;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll([PAGE, ...SHELL])));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((name) => name.startsWith(PREFIX) && name !== CACHE).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === PAGE) event.respondWith(page(request));
  else if (url.pathname.startsWith('/app/')) event.respondWith(asset(request));
});

/** The page: from the network when it answers in time (and kept), else the one kept. */
async function page(request) {
  const cache = await caches.open(CACHE);
  const fromNetwork = fetch(request).then((response) => {
    if (response.ok) cache.put(PAGE, response.clone());
    return response;
  });
  const late = new Promise((resolve) => setTimeout(resolve, PAGE_WAIT_MS));
  try {
    const first = await Promise.race([fromNetwork, late]);
    if (first) return first;
  } catch {
    /* no connection: the kept page */
  }
  return (await cache.match(PAGE)) || fromNetwork;
}

/** An asset of this version: kept at install, so from the cache; the network for anything else. */
async function asset(request) {
  const cached = await caches.match(request, { cacheName: CACHE, ignoreSearch: true });
  return cached || fetch(request);
}
