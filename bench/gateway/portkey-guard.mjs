// Preloaded into the peer gateway (@portkey-ai/gateway) by bench/gateway with `node --import`.
//
// 1. Loopback only. The gateway's start-server.js calls @hono/node-server's serve({fetch, port}),
//    which listens on every interface (server.listen(port, undefined)); it has no host option.
//    Every TCP listen in the process is rewritten to 127.0.0.1.
// 2. No egress. The benchmark's only upstream is the fake on 127.0.0.1. Any outbound TCP connection
//    (http, https, fetch/undici, ioredis, ...) or DNS lookup for anything that is not loopback is
//    refused before a packet leaves, and logged with the "[bench-guard] blocked" prefix, which the
//    benchmark reports. With @portkey-ai/gateway 1.15.2 nothing was ever blocked, and under
//    `strace -f -e trace=connect,sendto,sendmsg,bind` its only socket calls over start-up, a streaming
//    and a non-streaming request and 15 s idle were the bind to 127.0.0.1 and the connection to the
//    fake upstream: no telemetry, no DNS. The guard keeps it so with other versions.
import dns from 'node:dns';
import net from 'node:net';

const tag = '[bench-guard]';

function isLoopbackHost(h) {
  if (h === undefined || h === null || h === '') return true; // Node's default is localhost
  h = String(h).toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || /^::ffff:127\.\d+\.\d+\.\d+$/.test(h);
}

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const a0 = args[0];
  if (typeof a0 === 'number' || (typeof a0 === 'string' && /^\d+$/.test(a0))) {
    // listen(port[, host][, backlog][, cb])
    if (typeof args[1] === 'string' || args[1] === undefined || args[1] === null) args[1] = '127.0.0.1';
    else args.splice(1, 0, '127.0.0.1');
    console.error(`${tag} listen ${a0} -> 127.0.0.1:${a0}`);
  } else if (a0 && typeof a0 === 'object' && !Array.isArray(a0) && a0.path === undefined && a0.fd === undefined && a0._handle === undefined && a0.handle === undefined) {
    args[0] = { ...a0, host: '127.0.0.1' };
    console.error(`${tag} listen ${a0.port} -> 127.0.0.1:${a0.port}`);
  }
  return listen.apply(this, args);
};

function refuse(what) {
  console.error(`${tag} blocked ${what}`);
  const err = new Error(`bench guard: ${what} refused (the benchmark allows loopback only)`);
  err.code = 'ECONNREFUSED';
  return err;
}

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  // Node calls this with a normalized [options, cb] array, or (options[, cb]), (path[, cb]),
  // (port[, host][, cb]).
  let opts = args[0];
  if (Array.isArray(opts)) opts = opts[0];
  let host;
  if (opts && typeof opts === 'object') {
    if (opts.path !== undefined) return connect.apply(this, args); // unix socket
    host = opts.host;
  } else if (typeof opts === 'number' || (typeof opts === 'string' && /^\d+$/.test(opts))) {
    host = typeof args[1] === 'string' ? args[1] : undefined;
  } else if (typeof opts === 'string') {
    return connect.apply(this, args); // unix socket path
  }
  if (!isLoopbackHost(host)) {
    const err = refuse(`connect to ${host}:${opts && opts.port}`);
    process.nextTick(() => this.destroy(err));
    return this;
  }
  return connect.apply(this, args);
};

const lookup = dns.lookup;
dns.lookup = function (hostname, ...rest) {
  if (!isLoopbackHost(hostname)) {
    const cb = rest[rest.length - 1];
    const err = refuse(`DNS lookup of ${hostname}`);
    if (typeof cb === 'function') process.nextTick(() => cb(err));
    return {};
  }
  return lookup.call(this, hostname, ...rest);
};
const plookup = dns.promises.lookup;
dns.promises.lookup = function (hostname, ...rest) {
  if (!isLoopbackHost(hostname)) return Promise.reject(refuse(`DNS lookup of ${hostname}`));
  return plookup.call(this, hostname, ...rest);
};
for (const fn of ['resolve', 'resolve4', 'resolve6', 'resolveAny', 'resolveCname', 'resolveTxt', 'resolveSrv']) {
  const orig = dns[fn];
  if (typeof orig !== 'function') continue;
  dns[fn] = function (hostname, ...rest) {
    if (!isLoopbackHost(hostname)) {
      const cb = rest[rest.length - 1];
      const err = refuse(`DNS ${fn} of ${hostname}`);
      if (typeof cb === 'function') process.nextTick(() => cb(err));
      return;
    }
    return orig.call(this, hostname, ...rest);
  };
}
console.error(`${tag} active: listen forced to 127.0.0.1, egress limited to loopback`);
