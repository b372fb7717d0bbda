#!/usr/bin/env node
// The TypeScript MCP SDK's client, with its OAuth provider, against a running mcpdemo.
//
//   node tests/js/oauth_client.mjs <server-url> <username> [password]
//   (or MCPDEMO_URL, MCPDEMO_USERNAME, MCPDEMO_PASSWORD in the environment)
//
// The journey of a real client: connect, get 401, discover, register dynamically (public
// client, loopback redirect), send the user to the authorization URL, exchange the code,
// reconnect; list tools, call slugify and countdown (with progress); let the access token
// expire and call again, which makes the SDK refresh it. The "user" is scripted here with
// fetch, the way tests/browser.py does it: sign in, read the consent page, press Allow.
//
// Prints one JSON summary on stdout (no token or code in it); diagnostics go to stderr.

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";

const [serverUrl, username, password] = [
  process.argv[2] ?? process.env.MCPDEMO_URL,
  process.argv[3] ?? process.env.MCPDEMO_USERNAME,
  process.argv[4] ?? process.env.MCPDEMO_PASSWORD,
];
if (!serverUrl || !username || !password) {
  console.error("usage: node oauth_client.mjs <server-url> <username> [password]");
  console.error("   or: MCPDEMO_URL, MCPDEMO_USERNAME, MCPDEMO_PASSWORD in the environment");
  process.exit(2);
}
const mcpUrl = new URL("/mcp", serverUrl);
// Nothing listens here: the scripted browser reads the redirect instead of following it.
const redirectUri = `http://127.0.0.1:${40000 + (randomBytes(2).readUInt16BE() % 20000)}/callback`;
// An access token that expires within this many seconds is waited out, so that the
// server really refuses it; a longer-lived one is reported stale by the provider instead.
const MAX_WAIT_FOR_EXPIRY_SECONDS = 30;

/** Every HTTP request the SDK makes (discovery, registration, token, MCP), in order. */
const requests = [];
async function observedFetch(input, init = {}) {
  const url = new URL(input instanceof Request ? input.url : String(input));
  const method = init.method ?? (input instanceof Request ? input.method : "GET");
  const entry = { method, path: url.pathname };
  if (url.pathname === "/token" && init.body instanceof URLSearchParams) {
    entry.grant_type = init.body.get("grant_type");
    entry.resource = init.body.get("resource");
  }
  const response = await fetch(input, init);
  entry.status = response.status;
  requests.push(entry);
  return response;
}

/** The SDK's OAuthClientProvider interface, kept in memory. */
class ScriptedOAuthProvider {
  constructor() {
    this.authorizationUrls = [];
    this.savedTokens = [];
    this.stateValue = randomBytes(16).toString("base64url");
    this.staleAccessToken = null;
  }
  get redirectUrl() {
    return redirectUri;
  }
  get clientMetadata() {
    return {
      client_name: "TypeScript SDK e2e client",
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      scope: "mcp",
    };
  }
  state() {
    return this.stateValue;
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(information) {
    this.client = information;
  }
  tokens() {
    if (this.current && this.staleAccessToken) return { ...this.current, access_token: this.staleAccessToken };
    return this.current;
  }
  saveTokens(tokens) {
    this.current = tokens;
    this.staleAccessToken = null;
    this.savedTokens.push({ tokens, savedAt: Date.now() });
  }
  redirectToAuthorization(authorizationUrl) {
    this.authorizationUrls.push(authorizationUrl);
  }
  saveCodeVerifier(verifier) {
    this.verifier = verifier;
  }
  codeVerifier() {
    if (!this.verifier) throw new Error("no code verifier saved");
    return this.verifier;
  }

  /** Make the current access token unusable the way time does, and say how. */
  async expireAccessToken() {
    const { tokens, savedAt } = this.savedTokens.at(-1);
    const expiresAt = savedAt + tokens.expires_in * 1000;
    if (tokens.expires_in <= MAX_WAIT_FOR_EXPIRY_SECONDS) {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 300));
      return "waited for expiry";
    }
    this.staleAccessToken = randomBytes(20).toString("base64url");
    return "reported stale";
  }
}

// --- The scripted user at a browser (mirrors tests/browser.py) ----------------------------

class Browser {
  constructor() {
    this.cookies = new Map();
  }
  async request(url, { method = "GET", form, referer } = {}) {
    const headers = { Cookie: [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ") };
    if (referer) headers.Referer = referer;
    let body;
    if (form) {
      headers["Content-Type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(form).toString();
    }
    const response = await fetch(url, { method, headers, body, redirect: "manual" });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(";");
      const separator = pair.indexOf("=");
      this.cookies.set(pair.slice(0, separator).trim(), pair.slice(separator + 1).trim());
    }
    return { status: response.status, location: response.headers.get("location"), text: await response.text() };
  }
}

const ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', "#x27": "'", "#39": "'" };
const unescapeHtml = (text) => text.replace(/&(amp|lt|gt|quot|#x27|#39);/g, (_, entity) => ENTITIES[entity]);

function hiddenInputs(html) {
  const fields = {};
  for (const [tag] of html.matchAll(/<input\b[^>]*>/gi)) {
    const attrs = {};
    for (const [, key, value] of tag.matchAll(/(\w+)="([^"]*)"/g)) attrs[key.toLowerCase()] = unescapeHtml(value);
    if (attrs.type === "hidden" && attrs.name) fields[attrs.name] = attrs.value ?? "";
  }
  return fields;
}

function expectStatus(response, status, what) {
  if (response.status !== status) {
    throw new Error(`${what}: expected HTTP ${status}, got ${response.status}: ${response.text.slice(0, 500)}`);
  }
}

/** Sign in, read the consent page, press Allow; return the redirect's URL and the consent page. */
async function authorizeAsUser(authorizationUrl) {
  const browser = new Browser();
  let response = await browser.request(authorizationUrl);
  if (response.status === 302 && new URL(response.location, authorizationUrl).pathname === "/accounts/login/") {
    const loginUrl = new URL(response.location, authorizationUrl).href;
    const loginPage = await browser.request(loginUrl);
    expectStatus(loginPage, 200, "sign-in page");
    const form = { ...hiddenInputs(loginPage.text), username, password };
    response = await browser.request(loginUrl, { method: "POST", form, referer: loginUrl });
    expectStatus(response, 302, "signing in");
    authorizationUrl = new URL(response.location, loginUrl).href;
    response = await browser.request(authorizationUrl);
  }
  expectStatus(response, 200, "consent page");
  const consentPage = response.text;
  const consent = await browser.request(authorizationUrl, {
    method: "POST",
    form: { ...hiddenInputs(consentPage), allow: "Authorize" },
    referer: authorizationUrl,
  });
  expectStatus(consent, 302, "pressing Allow");
  return { redirect: new URL(consent.location), consentPage };
}

// --- The journey ----------------------------------------------------------------------------

const sdkVersion = JSON.parse(
  readFileSync(new URL("./node_modules/@modelcontextprotocol/sdk/package.json", import.meta.url), "utf8"),
).version;
const provider = new ScriptedOAuthProvider();
const client = new Client({ name: "mcpdemo-typescript-e2e", version: "1.0.0" });
// When the access token expires, the server also ends the open GET event stream, and the SDK
// reconnects it (and may refresh for it too). Its first reconnection waits 3 s instead of 1 s so
// that the tool call after expiry is what meets the 401 and makes the SDK refresh.
const reconnectionOptions = {
  initialReconnectionDelay: 3000,
  maxReconnectionDelay: 30000,
  reconnectionDelayGrowFactor: 1.5,
  maxRetries: 2,
};
const newTransport = () =>
  new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider, fetch: observedFetch, reconnectionOptions });

let transport = newTransport();
let firstConnectError;
try {
  await client.connect(transport);
} catch (error) {
  firstConnectError = error;
}
if (!(firstConnectError instanceof UnauthorizedError)) {
  throw new Error(`the first connection should need authorization, got: ${firstConnectError}`);
}
const authorizationUrl = provider.authorizationUrls.at(-1);
const { redirect, consentPage } = await authorizeAsUser(authorizationUrl.href);
const code = redirect.searchParams.get("code");
if (!code) throw new Error(`no code in the redirect: ${redirect.searchParams.get("error")}`);
await transport.finishAuth(code);
transport = newTransport();
await client.connect(transport);

const tools = await client.listTools();
const slug = await client.callTool({ name: "slugify", arguments: { text: "Ærøskøbing Straße" } });
const progress = [];
const countdown = await client.callTool({ name: "countdown", arguments: { seconds: 1 } }, undefined, {
  onprogress: ({ progress: done, total, message }) => progress.push({ progress: done, total, message }),
});
const firstTokens = provider.current;

const expiry = await provider.expireAccessToken();
const requestsBeforeRefresh = requests.length;
const slugAfterRefresh = await client.callTool({ name: "slugify", arguments: { text: "Hello again, World!" } });
const refreshRequests = requests.slice(requestsBeforeRefresh);
await client.close();

const grants = requests.filter((request) => request.path === "/token").map((request) => request.grant_type);
const registration = provider.client;
console.log(
  JSON.stringify(
    {
      sdk: { name: "@modelcontextprotocol/sdk", version: sdkVersion },
      server: client.getServerVersion(),
      protocolVersion: transport.protocolVersion,
      registration: {
        client_id_issued: Boolean(registration?.client_id),
        token_endpoint_auth_method: registration?.token_endpoint_auth_method,
        client_secret_issued: Boolean(registration?.client_secret),
        redirect_uris: registration?.redirect_uris,
      },
      authorization: {
        redirects: provider.authorizationUrls.length,
        request: Object.fromEntries(
          ["response_type", "scope", "resource", "code_challenge_method", "redirect_uri"].map((key) => [
            key,
            authorizationUrl.searchParams.get(key),
          ]),
        ),
        consent_page_names_client: consentPage.includes("TypeScript SDK e2e client"),
        redirected_to: `${redirect.origin}${redirect.pathname}`,
        state_matches: redirect.searchParams.get("state") === provider.stateValue,
        iss: redirect.searchParams.get("iss"),
      },
      tools: tools.tools.map((tool) => tool.name).sort(),
      slugify: slug.content[0].text,
      countdown: { isError: Boolean(countdown.isError), text: countdown.content[0].text, progress },
      refresh: {
        how: expiry,
        requests: refreshRequests,
        access_token_changed: provider.current.access_token !== firstTokens.access_token,
        refresh_token_rotated: provider.current.refresh_token !== firstTokens.refresh_token,
        expires_in: firstTokens.expires_in,
      },
      slugify_after_refresh: slugAfterRefresh.content[0].text,
      token_grants: grants,
      requests,
    },
    null,
    2,
  ),
);
