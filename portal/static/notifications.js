// The notification centre without reloads: on every page of a signed-in member, the unread
// count beside "Notifications" in the menu; on /portal/notifications, new events added on
// top of the list as they arrive. Polls the portal's JSON (same origin, session cookie).
(function () {
  const link = document.querySelector('header nav a[href="/portal/notifications"]');
  if (!link) return;
  const badge = document.createElement("span");
  badge.className = "unread-badge";
  badge.id = "nav-unread";
  badge.hidden = true;
  link.after(badge);  // beside the link, not in it: the entry keeps one line box
  const list = document.getElementById("notifications");
  const seconds = Number((list && list.dataset.pollSeconds) || 5);
  let after = list ? Number(list.dataset.newest || 0) : 0;

  function showCount(count) {
    badge.textContent = count > 99 ? "99+" : String(count);
    badge.dataset.count = String(count);
    badge.hidden = count === 0;
    const summary = document.getElementById("notifications-unread");
    if (summary) { summary.textContent = badge.textContent; summary.dataset.count = String(count); }
  }

  function rowOf(event) {
    const row = document.createElement("tr");
    row.className = "unread";
    row.dataset.seq = String(event.seq);
    row.dataset.kind = event.kind;
    const time = document.createElement("td");
    time.textContent = event.time;
    const kind = document.createElement("td");
    const mark = document.createElement("mark");
    mark.textContent = list.dataset.unreadLabel;
    kind.append(mark, " " + event.label);
    const subject = document.createElement("td");
    subject.textContent = event.subject;
    const open = document.createElement("td");
    if (event.href) {
      const a = document.createElement("a");
      a.href = event.href;
      a.textContent = list.dataset.open;
      open.append(a);
    }
    row.append(time, kind, subject, open);
    return row;
  }

  async function poll() {
    try {
      let url = "/portal/notifications/unread";
      if (list) {
        url = "/portal/notifications/feed?after=" + after;
        if (list.dataset.kind) url += "&kind=" + encodeURIComponent(list.dataset.kind);
      }
      const answer = await fetch(url, { headers: { Accept: "application/json" } });
      if (!answer.ok || !(answer.headers.get("content-type") || "").includes("json")) return;
      const feed = await answer.json();
      showCount(feed.unread);
      if (list && feed.events && feed.events.length) {
        for (const event of feed.events.slice().reverse()) list.prepend(rowOf(event));
        after = Math.max(after, feed.newest);
        list.dataset.newest = String(after);
        const upTo = document.getElementById("notifications-up-to");
        if (upTo) upTo.value = String(after);
        const empty = document.getElementById("notifications-empty");
        if (empty) empty.hidden = true;
      }
    } finally {
      setTimeout(poll, seconds * 1000);
    }
  }
  poll();
})();
