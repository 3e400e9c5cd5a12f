// Driver of the Inbox, Start and Form Activity pages, for end-to-end tests. Stable selectors
// (documented here, kept by the pages):
//   Start      #workflow-list (cards, each with a link "Start <workflow name>"), #start-form,
//              #start-submit, fields by their <label> text (the " *" of required ones aside)
//   Inbox      #inbox-table, rows tr[data-instance-id=<id>], link a#open-<id>; #inbox-empty
//   Form Activity
//              #instance-status (the status badge's text: "Active", "Waiting external",
//              "Completed", …), #instance-state, #action-panel with #action-form: radios
//              #transition-<key> (when the state has several ways out), #take-transition (the
//              submit button, labelled with the transition's name), #take-result (success),
//              #take-conflict; #timeline (li[data-kind=<ActivityKind>]); #work-item
//              (#work-item-external-id, #work-item-outcome); #signed-document; #form-data
//              (dd[data-field=<name>]); admin: #instance-events (tr[data-event-id]; #instance-events-more when it shows the newest only),
//              #admin-actions, #cancel-instance, #confirm-cancel, #retry-instance,
//              #admin-result; its starter (not an admin): #starter-actions, #cancel-instance,
//              #confirm-cancel, #starter-result; sandbox: #sandbox-panel, buttons
//              [data-sandbox-action=<action>], #sandbox-result.
import type { ConsolePage } from "../harness.js";

/** Fills the inputs of the form around `scope` whose labels are the keys of values. */
export async function fillByLabel(cp: ConsolePage, scope: string, values: Record<string, string>): Promise<void> {
  for (const [labelText, value] of Object.entries(values)) {
    const id = await cp.page.$eval(
      scope,
      (root, want) => {
        for (const l of Array.from(root.querySelectorAll("label"))) {
          const text = Array.from(l.childNodes)
            .filter((n) => !(n instanceof HTMLElement && n.getAttribute("aria-hidden") === "true"))
            .map((n) => n.textContent ?? "")
            .join("")
            .trim();
          if (text === want) return l.htmlFor;
        }
        return "";
      },
      labelText,
    );
    if (!id) throw new Error(`no field labelled ${JSON.stringify(labelText)} in ${scope}`);
    const sel = `[id="${id}"]`;
    const type = await cp.page.$eval(sel, (e) => (e as HTMLInputElement).type);
    if (type === "checkbox") {
      const checked = await cp.page.$eval(sel, (e) => (e as HTMLInputElement).checked);
      if (checked !== (value === "true")) await cp.page.click(sel);
    } else if (["date", "datetime-local", "time", "month", "week"].includes(type)) {
      // Typing does not work for these: set the value through the prototype's setter, as the
      // browser would, so that React's value tracking sees the change, then fire input.
      await cp.page.$eval(
        sel,
        (el, v) => {
          const input = el as HTMLInputElement;
          Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value")!.set!.call(input, v);
          input.dispatchEvent(new Event("input", { bubbles: true }));
          input.dispatchEvent(new Event("change", { bubbles: true }));
        },
        value,
      );
    } else {
      await cp.page.locator(sel).fill(value);
    }
  }
}

/** The text of the status badge of the open Form Activity page. */
export async function instanceStatus(cp: ConsolePage): Promise<string> {
  return cp.page.$eval("#instance-status .badge", (e) => e.textContent?.trim() ?? "");
}

/**
 * Goes to /start, picks the workflow by name from the startable ones (ListPublishedWorkflows:
 * users see them as designers do), fills its start form by field label, starts it, waits for
 * its Form Activity page (/instances/:id) and returns the instance id.
 */
export async function startInstance(cp: ConsolePage, workflowName: string, values: Record<string, string>): Promise<string> {
  await cp.goto("/start");
  await cp.page.locator(`#workflow-list a[aria-label="Start ${workflowName.replace(/"/g, '\\"')}"]`).setTimeout(20_000).click();
  await cp.page.waitForSelector("#start-form");
  await fillByLabel(cp, "#start-form", values);
  await cp.page.click("#start-submit");
  await cp.page.waitForFunction(() => /\/console\/instances\/[^/]+$/.test(location.pathname), { timeout: 20_000 });
  await cp.page.waitForSelector("#instance-status");
  return decodeURIComponent(new URL(cp.page.url()).pathname.split("/").pop()!);
}

/**
 * Goes to /inbox, opens the instance's item, fills the form of the transition (by its name, or
 * its key) with values by field label, submits it and waits for the success note.
 */
export async function takeTransitionFromInbox(
  cp: ConsolePage,
  instanceId: string,
  transitionName: string,
  values: Record<string, string> = {},
): Promise<void> {
  await cp.goto("/inbox");
  await cp.page.waitForSelector(`a[id="open-${instanceId}"]`, { timeout: 20_000 });
  await cp.page.click(`a[id="open-${instanceId}"]`);
  await cp.page.waitForSelector("#action-form");
  const radio = await cp.page.evaluate((name) => {
    for (const l of Array.from(document.querySelectorAll<HTMLLabelElement>("#action-form fieldset label"))) {
      const own = (l.firstChild?.textContent ?? "").trim();
      if (own === name || l.htmlFor === `transition-${name}`) return l.htmlFor;
    }
    return "";
  }, transitionName);
  if (radio) {
    await cp.page.click(`[id="${radio}"]`);
  } else {
    const only = (await cp.page.$eval("#take-transition", (b) => b.textContent?.trim() ?? "")) as string;
    if (only !== transitionName && (await cp.page.$("#action-form fieldset"))) {
      throw new Error(`no transition ${JSON.stringify(transitionName)} on ${instanceId}`);
    }
  }
  await fillByLabel(cp, "#action-form", values);
  await cp.page.click("#take-transition");
  await cp.page.waitForSelector("#take-result", { timeout: 20_000 });
}

/** On /instances/:id: waits for the sandbox panel, clicks the action, waits for its result. */
export async function sandboxAction(cp: ConsolePage, instanceId: string, action: string): Promise<void> {
  if (!new URL(cp.page.url()).pathname.endsWith(`/instances/${instanceId}`)) await cp.goto(`/instances/${instanceId}`);
  const button = `#sandbox-panel button[data-sandbox-action="${action}"]`;
  await cp.page.waitForSelector(button, { timeout: 30_000 });
  await cp.page.click(button);
  await cp.page.waitForFunction(
    (a) => {
      const r = document.querySelector("#sandbox-result");
      const err = document.querySelector("#sandbox-panel .error");
      if (err) throw new Error(`sandbox ${a}: ${err.textContent}`);
      return r !== null;
    },
    { timeout: 20_000 },
    action,
  );
}

/** On the open Form Activity page: waits until the status badge reads statusLabel. */
export async function waitForInstanceStatus(cp: ConsolePage, statusLabel: string): Promise<void> {
  await cp.page.waitForFunction(
    (want) => document.querySelector("#instance-status .badge")?.textContent?.trim() === want,
    { timeout: 30_000, polling: 100 },
    statusLabel,
  );
}
