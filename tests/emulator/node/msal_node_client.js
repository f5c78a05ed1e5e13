// One client-credentials token from msal-node with a certificate, as a Node test suite would ask
// the emulator for it. Settings come as JSON in argv[2]; the result (or MSAL's error) is printed
// as JSON on stdout; the exit code is 1 on failure. Trust comes from NODE_EXTRA_CA_CERTS.
const fs = require("fs");
const { ConfidentialClientApplication } = require("@azure/msal-node");

async function main() {
  const settings = JSON.parse(process.argv[2]);
  const app = new ConfidentialClientApplication({
    auth: {
      clientId: settings.clientId,
      authority: settings.authority,
      // The emulator is not a known Microsoft cloud: without one of these msal-node asks
      // login.microsoftonline.com for instance metadata.
      knownAuthorities: settings.knownAuthorities,
      cloudDiscoveryMetadata: settings.cloudDiscoveryMetadata,
      clientCertificate: {
        thumbprintSha256: settings.thumbprintSha256,
        privateKey: fs.readFileSync(settings.privateKeyPath, "utf8"),
      },
    },
  });
  const result = await app.acquireTokenByClientCredential({ scopes: settings.scopes });
  console.log(JSON.stringify({ accessToken: result.accessToken, fromCache: result.fromCache,
                               expiresOn: result.expiresOn }));
}

main().catch((error) => {
  console.log(JSON.stringify({ errorCode: error.errorCode || null,
                               errorMessage: String(error.errorMessage || error.message) }));
  process.exit(1);
});
