// eventrail studio: live rows. The server renders every row; this script only inserts the
// rows the server streams (`/stream`, server-sent events) into the flows list, and records
// how long each took from the tap receiving its event to it being in the page
// (`window.studioLatencies`, milliseconds; the benchmark reads it).
"use strict";
(function () {
  window.studioLatencies = [];
  var flows = document.getElementById("flows");
  if (!flows || flows.dataset.live !== "on" || !window.EventSource) {
    return;
  }
  var template = document.createElement("template");

  function groupOf(correlation) {
    if (!correlation) {
      return null;
    }
    var sections = flows.querySelectorAll("section.flow");
    for (var i = 0; i < sections.length; i++) {
      if (sections[i].dataset.correlation === correlation) {
        return sections[i];
      }
    }
    return null;
  }

  function newGroup(correlation) {
    var section = document.createElement("section");
    section.className = "flow";
    var title = document.createElement("h2");
    if (correlation) {
      section.dataset.correlation = correlation;
      var link = document.createElement("a");
      link.href = "/flows/" + encodeURIComponent(correlation);
      link.textContent = "flow " + correlation;
      title.appendChild(link);
    } else {
      title.textContent = "event without a correlation id";
    }
    section.appendChild(title);
    var list = document.createElement("ol");
    list.className = "events";
    section.appendChild(list);
    return section;
  }

  function insert(row) {
    var correlation = row.dataset.correlation;
    var section = groupOf(correlation);
    if (!section) {
      section = newGroup(correlation);
    }
    var list = section.querySelector("ol.events");
    var cause = row.dataset.causation;
    var after = null;
    if (cause) {
      // After its cause and the rows already under it.
      var rows = list.children;
      for (var i = 0; i < rows.length; i++) {
        if (rows[i].dataset.id === cause || (after && rows[i].dataset.causation === cause)) {
          after = rows[i];
        }
      }
    }
    if (after) {
      after.after(row);
    } else {
      list.appendChild(row);
    }
    // The flow with the newest event goes first.
    flows.prepend(section);
    var empty = document.getElementById("no-flows");
    if (empty) {
      empty.remove();
    }
  }

  // The count of held events, drawn once by the server, follows the live rows (the store
  // forgets the oldest past its capacity, so the count stops there).
  function countHeld() {
    var held = document.getElementById("held");
    if (!held) {
      return;
    }
    var count = Number(held.textContent) + 1;
    var capacity = Number(held.dataset.capacity);
    held.textContent = String(capacity > 0 ? Math.min(count, capacity) : count);
  }

  var source = new EventSource("/stream");
  source.addEventListener("flow-event", function (message) {
    template.innerHTML = message.data.trim();
    var row = template.content.firstElementChild;
    if (!row) {
      return;
    }
    row.classList.add("fresh");
    insert(row);
    countHeld();
    var received = Number(row.dataset.receivedMs);
    if (received > 0) {
      window.studioLatencies.push(Date.now() - received);
    }
  });
  source.addEventListener("flow-message", function (message) {
    template.innerHTML = message.data.trim();
    var item = template.content.firstElementChild;
    if (!item) {
      return;
    }
    var correlation = item.dataset.correlation;
    var section = groupOf(correlation);
    if (!section) {
      section = newGroup(correlation);
      flows.prepend(section);
    }
    var list = section.querySelector("ul.messages");
    if (!list) {
      list = document.createElement("ul");
      list.className = "messages";
      section.appendChild(list);
    }
    item.classList.add("fresh");
    list.appendChild(item);
  });
  source.addEventListener("lagged", function () {
    // Rows were skipped: the page shows the store as it is now.
    window.location.reload();
  });
})();
