import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { SignJWT } from "jose";
import { loadVerificationKey, verifyJwt } from "../../src/auth/index.js";
import { SseBrokerError } from "../../src/errors.js";

const dir = mkdtempSync(join(tmpdir(), "sseb-keys-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const ed = generateKeyPairSync("ed25519");
const spki = (k: import("node:crypto").KeyObject): string =>
  k.export({ type: "spki", format: "pem" }) as string;

function optionsError(fn: () => unknown, re: RegExp): void {
  assert.throws(
    fn,
    (err: unknown) =>
      err instanceof SseBrokerError && err.code === "SSEB_ERR_OPTIONS_INVALID" && re.test(err.message),
  );
}

describe("loadVerificationKey", () => {
  it("returns null when no key is configured", () => {
    assert.equal(loadVerificationKey({}, "publisher"), null);
  });

  it("defaults to HS256 for a shared secret", () => {
    const vk = loadVerificationKey({ key: "secret" }, "publisher");
    assert.deepEqual(vk?.algorithms, ["HS256"]);
  });

  it("verifies RS256, ES256 and EdDSA tokens with PEM public keys, private keys or files", async () => {
    const file = join(dir, "ec.pem");
    writeFileSync(file, spki(ec.publicKey));
    const cases = [
      { alg: "RS256", cfg: { key: spki(rsa.publicKey), alg: "RS256" as const }, sign: rsa.privateKey },
      {
        alg: "RS512",
        cfg: {
          key: rsa.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
          alg: "RS512" as const,
        },
        sign: rsa.privateKey,
      },
      { alg: "ES256", cfg: { keyFile: file, alg: "ES256" as const }, sign: ec.privateKey },
      { alg: "EdDSA", cfg: { key: spki(ed.publicKey), alg: "EdDSA" as const }, sign: ed.privateKey },
    ];
    for (const c of cases) {
      const vk = loadVerificationKey(c.cfg, "publisher");
      const jwt = await new SignJWT({ mercure: { publish: ["*"] } })
        .setProtectedHeader({ alg: c.alg })
        .sign(c.sign);
      const payload = await verifyJwt(jwt, vk);
      assert.deepEqual(payload.mercure, { publish: ["*"] }, c.alg);
    }
  });

  it("refuses a PEM key with an HS algorithm (algorithm confusion)", () => {
    optionsError(
      () => loadVerificationKey({ key: spki(rsa.publicKey), alg: "HS256" }, "publisher"),
      /shared secret/,
    );
  });

  it("refuses a key that does not fit the algorithm", () => {
    optionsError(
      () => loadVerificationKey({ key: spki(rsa.publicKey), alg: "ES256" }, "p"),
      /cannot verify ES256/,
    );
    optionsError(
      () => loadVerificationKey({ key: spki(ec.publicKey), alg: "RS256" }, "p"),
      /cannot verify RS256/,
    );
    optionsError(() => loadVerificationKey({ key: "secret", alg: "RS256" }, "p"), /needs a PEM/);
  });

  it("refuses a broken PEM, a missing file, unknown algorithms and conflicting settings", () => {
    optionsError(
      () =>
        loadVerificationKey(
          { key: "-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----", alg: "RS256" },
          "p",
        ),
      /not a valid PEM/,
    );
    optionsError(() => loadVerificationKey({ keyFile: join(dir, "missing.pem") }, "p"), /cannot read/);
    optionsError(() => loadVerificationKey({ key: "s", alg: "none" as "HS256" }, "p"), /unsupported/);
    optionsError(() => loadVerificationKey({ key: "s", keyFile: "f" }, "p"), /not both/);
    optionsError(() => loadVerificationKey({ key: "s", jwksUrl: "http://127.0.0.1/jwks" }, "p"), /not both/);
    optionsError(() => loadVerificationKey({ jwksUrl: "not a url" }, "p"), /JWKS URL/);
    optionsError(
      () => loadVerificationKey({ jwksUrl: "http://127.0.0.1/j", jwksAlgorithms: ["HS256"] }, "p"),
      /asymmetric/,
    );
    optionsError(() => loadVerificationKey({ key: "" }, "p"), /empty/);
  });
});

describe("verifyJwt", () => {
  const vk = loadVerificationKey({ key: "secret-secret-secret-secret-secret!" }, "subscriber");
  const sign = (claims: Record<string, unknown>, alg = "HS256") =>
    new SignJWT(claims)
      .setProtectedHeader({ alg })
      .sign(new TextEncoder().encode("secret-secret-secret-secret-secret!"));
  const code = async (p: Promise<unknown>): Promise<string> => {
    try {
      await p;
      return "ok";
    } catch (err) {
      assert.ok(err instanceof SseBrokerError);
      assert.equal(err.statusCode, 401);
      return err.code;
    }
  };

  it("maps each failure to a coded 401 without echoing the token", async () => {
    const now = Math.floor(Date.now() / 1000);
    assert.equal(await code(verifyJwt(await sign({}), vk)), "ok");
    assert.equal(await code(verifyJwt(await sign({ exp: now - 1 }), vk)), "SSEB_ERR_AUTH_TOKEN_EXPIRED");
    assert.equal(await code(verifyJwt(await sign({ nbf: now + 60 }), vk)), "SSEB_ERR_AUTH_TOKEN_INVALID");
    assert.equal(await code(verifyJwt(await sign({}, "HS384"), vk)), "SSEB_ERR_AUTH_TOKEN_INVALID");
    assert.equal(await code(verifyJwt("eyJhbGciOiJub25lIn0.e30.", vk)), "SSEB_ERR_AUTH_TOKEN_INVALID");
    assert.equal(await code(verifyJwt("garbage", vk)), "SSEB_ERR_AUTH_TOKEN_INVALID");
    assert.equal(await code(verifyJwt(await sign({}), null)), "SSEB_ERR_AUTH_TOKEN_INVALID");
    const jwt = await sign({ exp: now - 1 });
    await assert.rejects(
      verifyJwt(jwt, vk),
      (err: Error) => !err.message.includes(jwt.split(".")[1] as string),
    );
  });

  it("tolerates clock skew when asked", async () => {
    const now = Math.floor(Date.now() / 1000);
    assert.equal(await code(verifyJwt(await sign({ exp: now - 2 }), vk, { clockToleranceSec: 30 })), "ok");
  });
});
