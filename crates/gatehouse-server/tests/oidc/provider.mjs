// A real OpenID Connect provider for the server's tests: the certified `oidc-provider`
// package with its development sign-in pages (any login name and password is accepted; the
// account's subject is the login name and its e-mail `<login>@example.com`).
// Usage: node provider.mjs <port> <client id> <client secret> <redirect uri>
import Provider from "oidc-provider";

const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
const issuer = `http://localhost:${port}`;
const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    application_type: "native",
    grant_types: ["authorization_code"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_basic",
  }],
  claims: { openid: ["sub"], email: ["email", "email_verified"] },
  scopes: ["openid", "email"],
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@example.com`, email_verified: true };
      },
    };
  },
  async loadExistingGrant(ctx) {
    // Consent is implied for the test client: one grant with what it asks for.
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope("openid email");
    await grant.save();
    return grant;
  },
});
provider.on("server_error", (ctx, err) => console.error("server_error", err));
provider.listen(Number(port), "127.0.0.1", () => {
  console.log(`ready ${issuer}`);
});
