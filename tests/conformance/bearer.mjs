// Preloaded into the conformance suite (node --import ./bearer.mjs): the suite's server
// mode has no option for credentials, and our /mcp requires a bearer token. Every HTTP
// request the suite sends to MCP_CONFORMANCE_ORIGIN (by fetch, undici or node:http) gets
// "Authorization: Bearer $MCP_CONFORMANCE_BEARER" unless it already carries an
// Authorization header. Nothing else about the request is changed.
import http from "node:http";
import { Agent, setGlobalDispatcher } from "undici";

const token = process.env.MCP_CONFORMANCE_BEARER;
const origin = process.env.MCP_CONFORMANCE_ORIGIN;
if (!token || !origin) {
  throw new Error("bearer.mjs needs MCP_CONFORMANCE_BEARER and MCP_CONFORMANCE_ORIGIN");
}
const authorization = `Bearer ${token}`;
const isAuthorization = (name) => String(name).toLowerCase() === "authorization";

function withAuthorization(headers) {
  if (headers == null) return { authorization };
  if (Array.isArray(headers)) {
    // undici's flat form: [name, value, name, value, ...]
    for (let i = 0; i < headers.length; i += 2) if (isAuthorization(headers[i])) return headers;
    return [...headers, "authorization", authorization];
  }
  if (typeof headers[Symbol.iterator] === "function") {
    const pairs = [...headers];
    return pairs.some(([name]) => isAuthorization(name)) ? pairs : [...pairs, ["authorization", authorization]];
  }
  return Object.keys(headers).some(isAuthorization) ? headers : { ...headers, authorization };
}

// Node's own fetch and the undici package both send through the global dispatcher.
setGlobalDispatcher(
  new Agent().compose((dispatch) => (options, handler) => {
    const target = new URL(String(options.origin)).origin;
    return dispatch(target === origin ? { ...options, headers: withAuthorization(options.headers) } : options, handler);
  }),
);

// A few scenarios build raw requests with node:http (to send header values fetch would
// normalise); they read http.request from the module object at call time.
const httpRequest = http.request;
http.request = function requestWithAuthorization(...args) {
  const request = httpRequest.apply(this, args);
  if (targetOrigin(args) === origin && !request.hasHeader("authorization")) {
    request.setHeader("authorization", authorization);
  }
  return request;
};

function targetOrigin([first, second]) {
  if (typeof first === "string" || first instanceof URL) return new URL(first).origin;
  const options = { ...first, ...(typeof second === "object" ? second : {}) };
  const host = options.hostname ?? options.host ?? "localhost";
  const port = options.port ? `:${options.port}` : "";
  return `${options.protocol ?? "http:"}//${host.includes(":") ? `[${host}]` : host}${port}`;
}
