/*
 * Tra: check a copy of a document in the browser (verify/document.html).
 *
 * When a file is chosen or dropped on the drop zone, its SHA-256 is computed here with
 * crypto.subtle.digest (the file is not uploaded) and compared with the issued file's hash
 * in data-sha256. The messages come from data-msg-* attributes rendered by the template,
 * so that their translations stay in the catalogue. The form still submits the file to the
 * server (POST /v) for a full signature check when the person presses its button; without
 * this script, that is all the form does.
 */
(function () {
  "use strict";

  var forms = document.querySelectorAll('[data-module="file-check"]');
  for (var i = 0; i < forms.length; i++) {
    setUp(forms[i]);
  }

  function setUp(form) {
    var expected = (form.getAttribute("data-sha256") || "").toLowerCase();
    var input = form.querySelector('input[type="file"]');
    var zone = form.querySelector("[data-drop-zone]");
    var out = form.querySelector("[data-hash-result]");
    var canHash = !!(window.crypto && window.crypto.subtle && window.Uint8Array && window.Promise);
    var pending = null;

    if (!input || !out) {
      return;
    }

    function msg(key) {
      return form.getAttribute("data-msg-" + key) || "";
    }

    function render(kind, lines, hash) {
      out.className = "file-check__result file-check__result--" + kind;
      while (out.firstChild) {
        out.removeChild(out.firstChild);
      }
      lines.forEach(function (line, index) {
        if (!line) {
          return;
        }
        var p = document.createElement("p");
        if (index === 0) {
          p.className = "file-check__verdict";
        }
        p.textContent = line;
        out.appendChild(p);
      });
      if (hash) {
        var caption = document.createElement("p");
        caption.textContent = msg("your-hash");
        var code = document.createElement("code");
        code.className = "hash";
        code.textContent = hash;
        out.appendChild(caption);
        out.appendChild(code);
      }
    }

    function clear() {
      out.className = "file-check__result";
      while (out.firstChild) {
        out.removeChild(out.firstChild);
      }
    }

    function readFile(file) {
      if (file.arrayBuffer) {
        return file.arrayBuffer();
      }
      return new Promise(function (resolve, reject) {
        var reader = new FileReader();
        reader.onload = function () { resolve(reader.result); };
        reader.onerror = function () { reject(reader.error); };
        reader.readAsArrayBuffer(file);
      });
    }

    function toHex(buffer) {
      var bytes = new Uint8Array(buffer);
      var hex = "";
      for (var k = 0; k < bytes.length; k++) {
        hex += (bytes[k] < 16 ? "0" : "") + bytes[k].toString(16);
      }
      return hex;
    }

    function check(file) {
      if (!file) {
        clear();
        return;
      }
      if (!canHash) {
        render("neutral", [msg("unsupported")]);
        return;
      }
      var token = {};
      pending = token;
      render("neutral", [msg("checking")]);
      readFile(file)
        .then(function (buffer) {
          return window.crypto.subtle.digest("SHA-256", buffer);
        })
        .then(function (digest) {
          if (pending !== token) {
            return;
          }
          var hex = toHex(digest);
          if (expected && hex === expected) {
            render(form.getAttribute("data-match-kind") || "valid", [msg("match")], hex);
          } else {
            render("invalid", [msg("mismatch"), msg("mismatch-next")], hex);
          }
        })
        .catch(function () {
          if (pending === token) {
            render("neutral", [msg("error")]);
          }
        });
    }

    input.addEventListener("change", function () {
      check(input.files && input.files[0]);
    });

    if (!zone || !("ondrop" in zone) || !window.DataTransfer) {
      return;
    }

    var hidden = form.querySelectorAll("[data-js-only]");
    for (var h = 0; h < hidden.length; h++) {
      hidden[h].hidden = false;
    }

    var depth = 0;
    zone.addEventListener("dragenter", function (event) {
      event.preventDefault();
      depth += 1;
      zone.classList.add("drop-zone--active");
    });
    zone.addEventListener("dragover", function (event) {
      event.preventDefault();
      if (event.dataTransfer) {
        event.dataTransfer.dropEffect = "copy";
      }
    });
    zone.addEventListener("dragleave", function () {
      depth = Math.max(0, depth - 1);
      if (depth === 0) {
        zone.classList.remove("drop-zone--active");
      }
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      depth = 0;
      zone.classList.remove("drop-zone--active");
      var files = event.dataTransfer && event.dataTransfer.files;
      if (!files || !files.length) {
        return;
      }
      try {
        // Put the dropped file in the input, so that the server check sends it too.
        input.files = files;
      } catch (ignored) {
        // Older browsers: the in-browser check still runs.
      }
      check(files[0]);
    });
  }
})();
