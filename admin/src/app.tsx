import { Admin, LoginWithEmail, Resource } from 'react-admin';
import { BrowserRouter } from 'react-router-dom';
import audit from './audit/index.ts';
import control from './control/index.ts';
import { Dashboard } from './dashboard/dashboard.tsx';
import dlq from './dlq/index.ts';
import failures from './failures/index.ts';
import jobs from './jobs/index.ts';
import notes from './notes/index.ts';
import { createAuthProvider } from './providers/auth-provider.ts';
import { createDataProvider } from './providers/data-provider.ts';
import { createApiClient, localStorageTokens } from './providers/http.ts';
import users from './users/index.ts';

// The console is served by the API itself, so requests go to the page's own origin.
const tokens = localStorageTokens();
const api = createApiClient({ tokens });
const dataProvider = createDataProvider(api);
const authProvider = createAuthProvider(api, tokens);

/**
 * Real paths under /admin (the API serves index.html for any of them), so a page's URL can be
 * shared; the router's basename keeps every link, react-admin's or ours, inside /admin.
 */
export function App() {
  return (
    <BrowserRouter basename="/admin">
      <Admin
        title="Notes Pipeline"
        dataProvider={dataProvider}
        authProvider={authProvider}
        loginPage={LoginWithEmail}
        dashboard={Dashboard}
        requireAuth
        disableTelemetry
      >
        <Resource name="notes" {...notes} />
        <Resource name="jobs" {...jobs} />
        <Resource name="dlq" {...dlq} />
        <Resource name="failures" {...failures} />
        <Resource name="control" {...control} />
        <Resource name="users" {...users} />
        <Resource name="audit" {...audit} />
      </Admin>
    </BrowserRouter>
  );
}
