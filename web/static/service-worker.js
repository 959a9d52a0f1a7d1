// The app's service worker (served at /sw.js, its scope the whole site). The page and its assets are
// kept together in a cache named by their version, and served from it: a phone with no connection, or
// a weak one, opens the app at once, and never mixes a page of one release with modules of another.
// The API, the sign-in pages and everything else go to the network untouched. The server prepends
//   const VERSION = '<hash of the page and assets>'; const SHELL = ['/app/app.css', ...];
// so a release installs a new cache (browsers check /sw.js on each visit and now and then). The new
// release waits until the page asks for it (app.js: at the next move between screens, where nothing
// typed is lost), then takes over and the page reloads into it.

const PREFIX = 'congress-app-';
const CACHE = PREFIX + VERSION;
const PAGE = '/';

self.addEventListener('install', (event) => {
  // From the server, not the browser's HTTP cache, which may still hold the last release's files.
  const requests = [PAGE, ...SHELL].map((url) => new Request(url, { cache: 'reload' }));
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(requests)));
});

self.addEventListener('message', (event) => {
  if (event.data === 'take-over') self.skipWaiting();
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
  if (url.pathname === PAGE || url.pathname.startsWith('/app/')) event.respondWith(kept(url.pathname, request));
});

/** The page or an asset of this release, as installed; the network for anything not kept. */
async function kept(path, request) {
  const cached = await caches.match(path === PAGE ? PAGE : request, { cacheName: CACHE, ignoreSearch: true });
  return cached || fetch(request);
}
