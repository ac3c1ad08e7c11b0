// Browser tests for shared projects (issue 18): two users in two browser contexts against one
// real `taskstream up` — invite, accept, both editing one project live, a viewer's read-only
// view, removal while the other window is open; axe-core on every new screen in both themes.
// TASKSTREAM_SCREENSHOTS=docs writes the screenshots to docs/screenshots/ (`npm run screenshots:projects`).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gql, setup } from './harness.mjs';
import { axe, createProject, DESKTOP, openApp as open, PHONE, share, shot, signUp } from './lib/app.mjs';

let env;
const pageErrors = [];

/** A new account; `name` ("ada.lovelace") makes the avatars' initials. */
const account = (tag, name) => signUp(env, { tag, name });
const openApp = (token, opts = {}) => open(env, token, { pageErrors, ...opts });
const createProjectViaApi = (token, name, color) => createProject(env, { token }, name, color);
const shareViaApi = (owner, projectId, invitee, role) => share(env, owner, projectId, invitee, role);

const sidebarProject = (page, name) => page.locator('#sidebar a.project-link', { hasText: name });
const row = (page, title) => page.locator('.task-row', { hasText: title });

describe('Shared projects in Chromium, two users', { timeout: 900_000 }, () => {
  before(async () => {
    env = await setup();
  }, { timeout: 240_000 });

  after(async () => {
    await env?.teardown();
  }, { timeout: 60_000 });

  it('invite, accept, and both edit one project live; a removed member sees it go with a notice', async () => {
    const ada = await account('live', 'ada.lovelace');
    const bob = await account('live', 'bob.hopper');
    // Under the real Content-Security-Policy (the project colours must survive it).
    const a = await openApp(ada.token, { bypassCSP: false });
    const b = await openApp(bob.token, { bypassCSP: false });

    // Ada creates a project from the sidebar and lands in it.
    await a.getByRole('button', { name: 'New project' }).click();
    const dlg = a.getByRole('dialog', { name: 'New project' });
    await dlg.getByLabel('Name').fill('Launch');
    await dlg.getByRole('radio', { name: 'Teal' }).check();
    await dlg.getByRole('button', { name: 'Create project' }).click();
    await a.getByRole('heading', { name: 'Launch', level: 1 }).waitFor();
    const { projects } = await gql(env.baseUrl, '{ projects { id name color myRole } }', {}, ada.token);
    assert.deepEqual(projects.map((p) => [p.name, p.color, p.myRole]), [['Launch', '#1098ad', 'OWNER']]);
    const projectId = projects[0].id;
    assert.equal(await sidebarProject(a, 'Launch').getAttribute('aria-current'), 'page');
    assert.equal(await sidebarProject(a, 'Launch').locator('.project-dot').evaluate((el) => getComputedStyle(el).backgroundColor), 'rgb(16, 152, 173)');

    // Quick add inside the project puts the task in it.
    await a.getByRole('textbox', { name: 'Quick add' }).fill('Draft the agenda');
    await a.getByRole('textbox', { name: 'Quick add' }).press('Enter');
    await row(a, 'Draft the agenda').waitFor();
    const inProject = await gql(env.baseUrl, 'query($p: ID!) { tasks(filter: { projectId: $p }) { edges { node { title project { id } } } } }', { p: projectId }, ada.token);
    assert.deepEqual(inProject.tasks.edges.map((e) => [e.node.title, e.node.project.id]), [['Draft the agenda', projectId]]);
    await sidebarProject(a, 'Launch').getByTestId('open-count').filter({ hasText: '1' }).waitFor();

    // Ada invites Bob as an editor; Bob's badge appears without a reload.
    await a.getByRole('button', { name: 'Share' }).click();
    const share = a.getByRole('dialog', { name: 'Share “Launch”' });
    await share.getByLabel('Email').fill(bob.email);
    await share.getByLabel('Role', { exact: true }).selectOption('EDITOR');
    await share.getByRole('button', { name: 'Invite' }).click();
    await share.locator(`li[data-invitation="${bob.email}"]`).waitFor();
    await b.getByTestId('invitation-badge').filter({ hasText: '1' }).waitFor();

    // Bob accepts and lands in the project; Ada's dialog shows him as a member, live.
    await b.getByRole('button', { name: /Invitations/ }).click();
    const invites = b.getByRole('dialog', { name: 'Invitations' });
    await invites.getByText(`${ada.email} invited you as Editor`).waitFor();
    await invites.getByRole('button', { name: 'Accept the invitation to Launch' }).click();
    await b.getByRole('heading', { name: 'Launch', level: 1 }).waitFor();
    await row(b, 'Draft the agenda').waitFor();
    await b.getByTestId('invitation-badge').waitFor({ state: 'detached' });
    await share.locator(`li[data-member="${bob.email}"]`).waitFor();
    await share.locator(`li[data-invitation="${bob.email}"]`).waitFor({ state: 'detached' });
    await share.getByRole('button', { name: 'Done' }).click();

    // Bob adds a task: it appears in Ada's open window, highlighted.
    await b.getByRole('textbox', { name: 'Quick add' }).fill('Book the venue');
    await b.getByRole('textbox', { name: 'Quick add' }).press('Enter');
    await a.locator('.task-row[data-flash]', { hasText: 'Book the venue' }).waitFor();
    // The full editor opened inside the project creates the task there too, and stays in the project.
    await b.getByRole('link', { name: /New task/ }).first().click();
    await b.waitForURL(/#\/projects\/[^/]+\/new$/);
    await b.getByLabel('Title').fill('Print the badges');
    await b.getByRole('button', { name: 'Create task' }).click();
    await b.getByRole('heading', { name: 'Edit task' }).waitFor();
    assert.match(b.url(), new RegExp(`#/projects/${projectId}/[0-9a-f-]{36}$`));
    await a.locator('.task-row[data-flash]', { hasText: 'Print the badges' }).waitFor();
    const badges = await gql(env.baseUrl, 'query($p: ID!) { tasks(filter: { projectId: $p, text: "badges" }) { edges { node { title } } } }', { p: projectId }, ada.token);
    assert.deepEqual(badges.tasks.edges.map((e) => e.node.title), ['Print the badges']);
    assert.equal(await b.locator('.editor .back-link').getAttribute('href'), `#/projects/${projectId}`);
    // Ada renames a task through the API (as another tab would): Bob sees the new title.
    const agenda = row(b, 'Draft the agenda');
    const agendaId = await agenda.getAttribute('data-task-id');
    await gql(env.baseUrl, 'mutation($id: ID!) { updateTask(id: $id, input: { title: "Draft the agenda v2" }) { id } }', { id: agendaId }, ada.token);
    await b.locator('.task-row[data-flash]', { hasText: 'Draft the agenda v2' }).waitFor();
    // Bob completes it: it leaves Ada's open list, and the open count follows.
    await row(b, 'Draft the agenda v2').getByRole('checkbox').check();
    await row(a, 'Draft the agenda v2').waitFor({ state: 'detached' });
    const { task } = await gql(env.baseUrl, 'query($id: ID!) { task(id: $id) { status } }', { id: agendaId }, ada.token);
    assert.equal(task.status, 'DONE');
    await sidebarProject(a, 'Launch').getByTestId('open-count').filter({ hasText: '2' }).waitFor();

    // Ada removes Bob while his window shows the project.
    await a.getByRole('button', { name: 'Share' }).click();
    await share.getByRole('button', { name: `Remove ${bob.email}` }).click();
    await a.getByRole('dialog', { name: `Remove ${bob.email}?` }).getByRole('button', { name: 'Remove' }).click();
    await share.locator(`li[data-member="${bob.email}"]`).waitFor({ state: 'detached' });
    await b.getByTestId('project-notice').filter({ hasText: 'You were removed from the project “Launch”' }).waitFor();
    await sidebarProject(b, 'Launch').waitFor({ state: 'detached' });
    await b.getByRole('heading', { name: 'Inbox', level: 1 }).waitFor();
    assert.equal(await row(b, 'Book the venue').count(), 0);
    const left = await gql(env.baseUrl, '{ projects { id } }', {}, bob.token);
    assert.deepEqual(left.projects, []);

    await b.getByTestId('project-notice').getByRole('button', { name: 'Dismiss' }).click();
    await b.getByTestId('project-notice').waitFor({ state: 'detached' });

    // Ada renames and recolours, archives, then deletes the project from its settings.
    await share.getByRole('button', { name: 'Done' }).click();
    await a.getByRole('button', { name: 'Edit project' }).click();
    const edit = a.getByRole('dialog', { name: 'Edit “Launch”' });
    await edit.getByLabel('Name').fill('Launch 2027');
    await edit.getByRole('radio', { name: 'Red' }).check();
    await edit.getByRole('button', { name: 'Save' }).click();
    await a.getByRole('heading', { name: 'Launch 2027', level: 1 }).waitFor();
    assert.equal(await sidebarProject(a, 'Launch 2027').locator('.project-dot').evaluate((el) => getComputedStyle(el).backgroundColor), 'rgb(201, 42, 42)');
    await a.getByRole('button', { name: 'Edit project' }).click();
    await a.getByRole('dialog', { name: 'Edit “Launch 2027”' }).getByRole('button', { name: 'Archive project' }).click();
    await a.locator('.side-archived summary', { hasText: 'Archived (1)' }).waitFor();
    await a.getByRole('button', { name: 'Edit project' }).click();
    await a.getByRole('dialog', { name: 'Edit “Launch 2027”' }).getByRole('button', { name: 'Delete project…' }).click();
    await a.getByRole('dialog', { name: 'Delete “Launch 2027”?' }).getByRole('button', { name: 'Delete project' }).click();
    // The server keeps a project that still holds tasks: the dialog says so in words.
    const editing = a.getByRole('dialog', { name: 'Edit “Launch 2027”' });
    await editing.getByRole('alert').filter({ hasText: '“Launch 2027” still holds 3 tasks (done ones count too), and only an empty project can be deleted.' }).waitFor();
    const held = await gql(env.baseUrl, 'query($p: ID!) { tasks(filter: { projectId: $p }) { edges { node { id } } } }', { p: projectId }, ada.token);
    for (const e of held.tasks.edges) await gql(env.baseUrl, 'mutation($id: ID!) { deleteTask(id: $id) }', { id: e.node.id }, ada.token);
    await editing.getByRole('button', { name: 'Delete project…' }).click();
    await a.getByRole('dialog', { name: 'Delete “Launch 2027”?' }).getByRole('button', { name: 'Delete project' }).click();
    await a.getByRole('heading', { name: 'Inbox', level: 1 }).waitFor();
    await sidebarProject(a, 'Launch 2027').waitFor({ state: 'detached' });
    const gone = await gql(env.baseUrl, '{ projects(includeArchived: true) { id } }', {}, ada.token);
    assert.deepEqual(gone.projects, []);
    // Deleting one's own project brings no "you were removed" notice.
    assert.equal(await a.getByTestId('project-notice').count(), 0);
    await a.context().close();
    await b.context().close();
  });

  it('an invitation and an assignment reach the bell live, without a reload', async () => {
    const ada = await account('bell', 'ada.lovelace');
    const bob = await account('bell', 'bob.hopper');
    const projectId = await createProjectViaApi(ada.token, 'Party');
    const b = await openApp(bob.token);
    const badge = b.getByTestId('unread-badge');
    assert.equal(await badge.count(), 0);
    await b.evaluate(() => (window.__noReload = true));

    // Invited (not yet accepted): the invitation's notice is pushed on the notifications subscription.
    const inv = await gql(env.baseUrl, 'mutation($p: ID!, $e: String!) { inviteToProject(projectId: $p, email: $e, role: EDITOR) { id } }', { p: projectId, e: bob.email }, ada.token);
    await badge.filter({ hasText: /^1$/ }).waitFor({ timeout: 20_000 });
    await gql(env.baseUrl, 'mutation($id: ID!) { acceptInvitation(id: $id) { id } }', { id: inv.inviteToProject.id }, bob.token);
    // Ada assigns him a task: "assigned to you" arrives the same way.
    await gql(env.baseUrl, 'mutation($p: ID!, $a: ID!) { createTask(input: { title: "Order the cake", projectId: $p, assigneeId: $a }) { id } }', { p: projectId, a: (await gql(env.baseUrl, '{ me { id } }', {}, bob.token)).me.id }, ada.token);
    await badge.filter({ hasText: /^2$/ }).waitFor({ timeout: 20_000 });
    await b.getByText('New notification: Assigned to you: Order the cake').waitFor();

    await b.getByRole('button', { name: /^Notifications/ }).click();
    const panel = b.getByRole('region', { name: 'Notifications' });
    await panel.locator('.notification-list li.unread', { hasText: 'Assigned to you: Order the cake' }).waitFor();
    await panel.locator('.notification-list li.unread', { hasText: 'invited you to “Party”' }).waitFor();
    await shot(b, 'projects-notices-live');
    assert.equal(await b.evaluate(() => window.__noReload), true, 'the page did not reload');
    await b.context().close();
  });

  it("a viewer's project is read-only, and a role change updates what is offered live", async () => {
    const owner = await account('ro', 'olga.owner');
    const viewer = await account('ro', 'vic.viewer');
    const projectId = await createProjectViaApi(owner.token, 'Roadmap');
    await gql(env.baseUrl, 'mutation($p: ID!) { createTask(input: { title: "Ship v2", projectId: $p }) { id } }', { p: projectId }, owner.token);
    await shareViaApi(owner, projectId, viewer, 'VIEWER');
    const v = await openApp(viewer.token, { hash: `#/projects/${projectId}` });
    await v.getByRole('heading', { name: 'Roadmap', level: 1 }).waitFor();
    await row(v, 'Ship v2').waitFor();
    assert.equal(await v.getByTestId('project-role').textContent(), 'Viewer');
    // Nothing that changes tasks is offered.
    assert.equal(await v.getByRole('textbox', { name: 'Quick add' }).count(), 0);
    assert.equal(await v.getByRole('link', { name: /New task/ }).count(), 0);
    assert.equal(await row(v, 'Ship v2').getByRole('checkbox').count(), 0);
    await row(v, 'Ship v2').getByText('View only').waitFor();
    // The task opens read-only.
    await row(v, 'Ship v2').getByRole('link', { name: 'Ship v2' }).click();
    await v.locator('.task-view').getByText('You can view this task but not change it').waitFor();
    assert.equal(await v.getByRole('button', { name: /Save|Delete|Complete/ }).count(), 0);
    // The sharing dialog shows members without owner controls; leaving stays possible.
    await v.getByRole('button', { name: 'Members' }).click();
    const dlg = v.getByRole('dialog', { name: 'Share “Roadmap”' });
    await dlg.locator(`li[data-member="${owner.email}"]`).waitFor();
    assert.equal(await dlg.getByRole('button', { name: 'Invite' }).count(), 0);
    assert.equal(await dlg.getByRole('button', { name: /^Remove/ }).count(), 0);
    assert.equal(await dlg.locator('select').count(), 0);
    await dlg.getByRole('button', { name: 'Leave project…' }).waitFor();
    await dlg.getByRole('button', { name: 'Done' }).click();
    // The owner makes them an editor: quick add and the checkbox appear without a reload.
    await gql(env.baseUrl, 'mutation($p: ID!, $u: ID!) { changeMemberRole(projectId: $p, userId: $u, role: EDITOR) { id } }', { p: projectId, u: await userId(viewer) }, owner.token);
    await v.getByRole('textbox', { name: 'Quick add' }).waitFor();
    await row(v, 'Ship v2').getByRole('checkbox').waitFor();
    assert.equal(await v.getByTestId('project-role').textContent(), 'Editor');
    await v.context().close();
  });

  for (const theme of ['light', 'dark']) {
    it(`axe-core finds no WCAG 2.2 AA violations on the project screens in the ${theme} theme; screenshots`, async () => {
      const owner = await account(theme, 'ada.lovelace');
      const member = await account(theme, 'grace.hopper');
      const invitee = await account(theme, 'alan.turing');
      const viewer = await account(theme, 'edsger.dijkstra');
      const projectId = await createProjectViaApi(owner.token, 'Website relaunch', '#7048e8');
      await createProjectViaApi(owner.token, 'Home', '#d9480f');
      for (const [title, priority] of [['Write the copy', 'HIGH'], ['Pick the photos', 'NONE'], ['Review the staging site', 'MEDIUM']]) {
        await gql(env.baseUrl, 'mutation($p: ID!, $t: String!, $pr: Priority) { createTask(input: { title: $t, projectId: $p, priority: $pr }) { id } }', { p: projectId, t: title, pr: priority }, owner.token);
      }
      await shareViaApi(owner, projectId, member, 'EDITOR');
      await shareViaApi(owner, projectId, viewer, 'VIEWER');
      await gql(env.baseUrl, 'mutation($p: ID!, $e: String!) { inviteToProject(projectId: $p, email: $e, role: VIEWER) { id } }', { p: projectId, e: invitee.email }, owner.token);
      const other = await createProjectViaApi(member.token, 'Conference talk', '#1098ad');
      await gql(env.baseUrl, 'mutation($p: ID!, $e: String!) { inviteToProject(projectId: $p, email: $e, role: EDITOR) { id } }', { p: other, e: owner.email }, member.token);

      for (const [vp, name] of [
        [DESKTOP, 'desktop'],
        [PHONE, 'phone'],
      ]) {
        const page = await openApp(owner.token, { viewport: vp, colorScheme: theme, hash: `#/projects/${projectId}` });
        assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), theme);
        await row(page, 'Write the copy').waitFor();
        await axe(page, `project view (${theme}, ${name})`);
        await shot(page, `project-${name}-${theme}`);
        if (name === 'phone') {
          // The sidebar is folded behind "Menu" on a phone.
          assert.equal(await page.locator('#sidebar').isVisible(), false);
          await page.getByRole('button', { name: /Menu/ }).click();
          await sidebarProject(page, 'Website relaunch').waitFor();
          await axe(page, `sidebar (${theme}, ${name})`);
          await shot(page, `sidebar-${name}-${theme}`);
          await page.getByRole('button', { name: /Menu/ }).click();
        }
        await page.getByRole('button', { name: 'Share' }).click();
        const share = page.getByRole('dialog', { name: 'Share “Website relaunch”' });
        await share.locator(`li[data-invitation="${invitee.email}"]`).waitFor();
        await axe(page, `share dialog (${theme}, ${name})`);
        await shot(page, `share-${name}-${theme}`);
        await share.getByRole('button', { name: 'Done' }).click();
        await page.getByRole('button', { name: 'Edit project' }).click();
        await page.getByRole('dialog', { name: 'Edit “Website relaunch”' }).waitFor();
        await axe(page, `project settings (${theme}, ${name})`);
        await shot(page, `project-edit-${name}-${theme}`);
        await page.keyboard.press('Escape');
        if (name === 'phone') await page.getByRole('button', { name: /Menu/ }).click();
        await page.getByRole('button', { name: /Invitations/ }).click();
        await page.getByRole('dialog', { name: 'Invitations' }).getByText('Conference talk').waitFor();
        await axe(page, `invitations (${theme}, ${name})`);
        await shot(page, `invitations-${name}-${theme}`);
        await page.keyboard.press('Escape');
        // All tasks: project tasks carry their project's name and colour.
        await page.goto(`${env.baseUrl}/#/tasks`);
        await row(page, 'Write the copy').locator('a.project-chip', { hasText: 'Website relaunch' }).waitFor();
        await axe(page, `all tasks with project chips (${theme}, ${name})`);
        await page.context().close();

        // The same project as its viewer, and a task opened read-only.
        const v = await openApp(viewer.token, { viewport: vp, colorScheme: theme, hash: `#/projects/${projectId}` });
        await row(v, 'Write the copy').getByText('View only').waitFor();
        await axe(v, `viewer's project (${theme}, ${name})`);
        await shot(v, `project-viewer-${name}-${theme}`);
        await row(v, 'Write the copy').getByRole('link', { name: 'Write the copy' }).click();
        await v.locator('.task-view').getByText('You can view this task but not change it').waitFor();
        await axe(v, `read-only task (${theme}, ${name})`);
        await shot(v, `task-view-${name}-${theme}`);
        await v.context().close();
      }

      // The notice a removed member gets while looking at the project.
      const v = await openApp(viewer.token, { colorScheme: theme, hash: `#/projects/${projectId}` });
      await row(v, 'Write the copy').waitFor();
      await gql(env.baseUrl, 'mutation($p: ID!, $u: ID!) { removeMember(projectId: $p, userId: $u) { id } }', { p: projectId, u: await userId(viewer) }, owner.token);
      await v.getByTestId('project-notice').waitFor();
      await v.getByRole('heading', { name: 'Inbox', level: 1 }).waitFor();
      await axe(v, `removal notice (${theme}, desktop)`);
      await shot(v, `removed-desktop-${theme}`);
      await v.context().close();
    });
  }

  it('no page errors', () => {
    assert.deepEqual(pageErrors, []);
  });
});

async function userId(acct) {
  const d = await gql(env.baseUrl, '{ me { id } }', {}, acct.token);
  return d.me.id;
}
