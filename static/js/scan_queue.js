// The scan page's queue of scans waiting to be sent, kept in IndexedDB per user, shared by all of that
// user's tabs. IndexedDB rather than localStorage: each change is a transaction on one row (an add, a
// delete), where localStorage held the whole queue as one value, and two tabs writing it overwrote each
// other's scans.
//
// One sender at a time across the user's tabs: sending() holds a Web Lock (navigator.locks) while it sends,
// and reads the head of the queue afresh from IndexedDB for each request, deleting it once the server has
// answered, so no tab sends what another already sent and none waits on a stale copy. (A tab closed in the
// middle of a request frees the lock; the next sender sends that scan again, and the server answers the
// repeated client id with its first answer.) Tabs tell each other of changes on a BroadcastChannel.
//
// Without IndexedDB (a blocked browser profile) the queue lives in memory: the page works, a reload loses
// what waits. Without Web Locks (plain http on a LAN is not a secure context) each tab sends on its own:
// two tabs may then send one scan twice, and the server's client ids still record it once.

const DB_NAME = "traitortrack";
const DB_VERSION = 1;
const STORE = "scan_queue";
// [user_id, order]: the user's queue in the order it was scanned, whichever tab's write lands first
// (order: the scan's time in ms since the epoch, with the page clock's fraction; tabs share the clock).
const BY_USER = "by_user";

function promised(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function openDatabase() {
  if (!window.indexedDB) return Promise.resolve(null);
  return new Promise((resolve) => {
    let request;
    try {
      request = window.indexedDB.open(DB_NAME, DB_VERSION);
    } catch {
      resolve(null);
      return;
    }
    request.onupgradeneeded = () => {
      const store = request.result.createObjectStore(STORE, { keyPath: "seq", autoIncrement: true });
      store.createIndex(BY_USER, ["user_id", "order"]);
      store.createIndex("id", "id", { unique: true });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => resolve(null);
    request.onblocked = () => resolve(null);
  });
}

// The store's operations, on IndexedDB: each one transaction.
class DatabaseStore {
  constructor(db, userId) {
    this.db = db;
    this.range = IDBKeyRange.bound([userId, -Infinity], [userId, Infinity]);
  }

  run(mode, work) {
    return new Promise((resolve, reject) => {
      const tx = this.db.transaction(STORE, mode);
      let result;
      Promise.resolve(work(tx.objectStore(STORE))).then((value) => {
        result = value;
      }, reject);
      tx.oncomplete = () => resolve(result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }

  all() {
    return this.run("readonly", (store) => promised(store.index(BY_USER).getAll(this.range)));
  }

  head() {
    return this.run("readonly", async (store) => {
      const cursor = await promised(store.index(BY_USER).openCursor(this.range));
      return cursor ? cursor.value : null;
    });
  }

  // Added unless a row of that id is there already (a second migration of the old queue).
  add(items) {
    return this.run("readwrite", async (store) => {
      for (const item of items) {
        if ((await promised(store.index("id").count(item.id))) === 0) store.add(item);
      }
    });
  }

  put(items) {
    return this.run("readwrite", async (store) => {
      for (const item of items) {
        const key = await promised(store.index("id").getKey(item.id));
        if (key !== undefined) store.put({ ...item, seq: key });
      }
    });
  }

  remove(id) {
    return this.run("readwrite", async (store) => {
      const key = await promised(store.index("id").getKey(id));
      if (key !== undefined) store.delete(key);
    });
  }

  // The last item, deleted if keep(last, isHead) is false; one transaction, so no sender takes it meanwhile.
  takeLast(removable) {
    return this.run("readwrite", async (store) => {
      const index = store.index(BY_USER);
      const last = await promised(index.openCursor(this.range, "prev"));
      if (!last) return null;
      const first = await promised(index.openCursor(this.range));
      if (!removable(last.value, first.value.id === last.value.id)) return null;
      store.delete(last.value.seq);
      return last.value;
    });
  }
}

// The same operations in memory, when IndexedDB is not there.
class MemoryStore {
  constructor() {
    this.items = [];
    this.seq = 0;
  }

  async all() {
    this.items.sort((a, b) => a.order - b.order);
    return this.items.map((item) => ({ ...item }));
  }

  async head() {
    this.items.sort((a, b) => a.order - b.order);
    return this.items.length ? { ...this.items[0] } : null;
  }

  async add(items) {
    for (const item of items) {
      if (!this.items.some((kept) => kept.id === item.id)) this.items.push({ ...item, seq: (this.seq += 1) });
    }
  }

  async put(items) {
    for (const item of items) {
      const index = this.items.findIndex((kept) => kept.id === item.id);
      if (index >= 0) this.items[index] = { ...item, seq: this.items[index].seq };
    }
  }

  async remove(id) {
    this.items = this.items.filter((item) => item.id !== id);
  }

  async takeLast(removable) {
    this.items.sort((a, b) => a.order - b.order);
    const last = this.items[this.items.length - 1];
    if (!last || !removable(last, this.items.length === 1)) return null;
    return this.items.pop();
  }
}

// A lock per user and name: Web Locks across tabs, else a promise chain within this tab.
function locker(prefix) {
  const chains = {};
  const busy = {};
  return {
    hold(name, work) {
      if (navigator.locks) return navigator.locks.request(`${prefix}.${name}`, work);
      const run = (chains[name] || Promise.resolve()).then(async () => {
        busy[name] = true;
        try {
          return await work();
        } finally {
          busy[name] = false;
        }
      });
      chains[name] = run.catch(() => {});
      return run;
    },
    // work(true) when the lock was free (and is held for work), work(false) when someone holds it.
    tryHold(name, work) {
      if (navigator.locks) {
        return navigator.locks.request(`${prefix}.${name}`, { ifAvailable: true }, (lock) => work(lock !== null));
      }
      return work(!busy[name]);
    },
  };
}

export class ScanQueue {
  // Usable at once: what is added before the store is open waits in this.items and is written once it is.
  // journalKey: a localStorage key; the queue as it was kept before IndexedDB, and now the scans added but
  // not yet stored (see add), both moved into the store when a page opens (migrateFrom).
  // tabId: this tab's name on the items it adds (held as a lock while the tab is open: see openTabs).
  constructor(userId, journalKey, tabId) {
    this.store = null;
    this.userId = userId;
    this.journalKey = journalKey;
    this.items = []; // this tab's copy, in order, for drawing; the store is the truth
    this.locks = locker(`tt.scan.${userId}`);
    this.tabPrefix = `tt.scan.${userId}.tab.`;
    if (navigator.locks) navigator.locks.request(this.tabPrefix + tabId, () => new Promise(() => {}));
    this.listeners = { changed: [], answer: [] };
    this.ready = this.start(journalKey);
    this.writes = this.ready; // this tab's writes, in order, after the store is open
    this.channel = window.BroadcastChannel ? new BroadcastChannel(`tt.scan.${userId}`) : null;
    if (this.channel) {
      this.channel.onmessage = async (event) => {
        const message = event.data || {};
        if (message.type === "answer") this.emit("answer", message.item, message.answer);
        await this.reload();
      };
    }
  }

  async start(journalKey) {
    const db = await openDatabase();
    this.store = db ? new DatabaseStore(db, this.userId) : new MemoryStore();
    let stored = [];
    try {
      if (journalKey) await this.migrateFrom(journalKey);
      stored = await this.store.all();
    } catch {
      this.store = new MemoryStore(); // a broken database: work on in memory
    }
    const storedIds = new Set(stored.map((item) => item.id));
    this.items = [...stored, ...this.items.filter((item) => !storedIds.has(item.id))];
    this.emit("changed");
  }

  on(name, listener) {
    this.listeners[name].push(listener);
  }

  emit(name, ...args) {
    for (const listener of this.listeners[name]) listener(...args);
  }

  // The ids of this user's tabs open now, or null when the browser cannot tell (no Web Locks).
  async openTabs() {
    if (!navigator.locks || !navigator.locks.query) return null;
    const { held } = await navigator.locks.query();
    return new Set(held.filter((lock) => lock.name.startsWith(this.tabPrefix)).map((lock) => lock.name.slice(this.tabPrefix.length)));
  }

  get length() {
    return this.items.length;
  }

  write(change) {
    this.writes = this.writes.then(change).catch(() => {});
    return this.writes;
  }

  tell(message = { type: "changed" }) {
    if (this.channel) this.channel.postMessage(message);
  }

  // Another tab's changes: read the queue again once this tab's own writes are in.
  async reload() {
    await this.writes;
    this.items = await this.store.all();
    this.emit("changed");
  }

  // At once in this tab's copy (the page draws it before the write is done) and in the localStorage journal
  // (written before this returns: a reload a moment after the scan loses nothing), then stored.
  add(item) {
    const kept = { ...item, user_id: this.userId, order: performance.timeOrigin + performance.now() };
    this.items.push(kept);
    this.journal((items) => [...items, kept]);
    return this.write(async () => {
      await this.store.add([kept]);
      this.journal((items) => items.filter((journaled) => journaled.id !== kept.id));
      this.tell();
    });
  }

  journal(change) {
    if (!this.journalKey) return;
    try {
      const items = change(JSON.parse(window.localStorage.getItem(this.journalKey) || "[]"));
      if (items.length) window.localStorage.setItem(this.journalKey, JSON.stringify(items));
      else window.localStorage.removeItem(this.journalKey);
    } catch {
      // Storage full or blocked: the scan is still on its way to IndexedDB.
    }
  }

  update(items) {
    if (!items.length) return this.writes;
    return this.write(async () => {
      await this.store.put(items);
      this.tell();
    });
  }

  // Undo of a scan never sent: the last item, if it is a child or a move and no sender has it (a sender
  // has only the head, and only while it holds the lock). Returns the item taken out, or null.
  async takeLastWaiting(kinds) {
    await this.writes;
    const taken = await this.locks.tryHold("send", (free) =>
      this.store.takeLast((last, isHead) => kinds.has(last.kind) && (free || !isHead)),
    );
    if (taken) {
      this.items = this.items.filter((item) => item.id !== taken.id);
      this.tell();
    }
    return taken;
  }

  // Runs work(next, done) holding the user's send lock: next() is the head of the queue as stored now
  // (null when empty), done(item, answer) deletes it and tells the other tabs the answer.
  async sending(work) {
    await this.ready; // opening takes the lock once, to move the old queue over
    return this.locks.hold("send", async () => {
      const next = async () => {
        await this.writes; // this tab's scans added meanwhile are in the store before the head is read
        return this.store.head();
      };
      const done = async (item, answer) => {
        await this.store.remove(item.id);
        this.items = this.items.filter((kept) => kept.id !== item.id);
        this.tell({ type: "answer", item, answer });
      };
      return work(next, done);
    });
  }

  // The queue kept in localStorage before it moved here, or scans of a page that closed before storing
  // them: moved over (under the send lock, so two tabs opening at once move them once; a row of the same id
  // is not added twice), then the key removed.
  migrateFrom(key) {
    return this.locks.hold("send", async () => {
      let old = null;
      try {
        old = JSON.parse(window.localStorage.getItem(key) || "null");
      } catch {
        old = null;
      }
      if (Array.isArray(old) && old.length) {
        const items = old.map(({ sending, ...item }, index) => ({
          ...item,
          user_id: this.userId,
          delayed: true,
          order: item.order ?? (Date.parse(item.at) || 0) + index / 1000, // the old queue: in its own order
        }));
        await this.store.add(items);
      }
      try {
        window.localStorage.removeItem(key);
      } catch {
        // blocked storage: nothing was there to move
      }
    });
  }
}
