// Copying a `console` block copies only its commands.
//
// A console block shows `$ command` lines with sample output under them. Pasted whole into
// a terminal, the prompts and the output would run as commands, so the copy button (Material's
// content.code.copy) must give the commands alone. Material copies the text of the nearest
// element with a `data-copy` attribute when there is one, so we set that on each console
// block's <code> and leave the button, its focus and its "Copied" toast to Material.
//
// The commands are read from the block's text, not from Pygments' classes: Pygments marks
// `> ` continuation lines and heredoc bodies as output (`.go`), but they belong to the
// command. The rules are the test harness's own (console_commands in
// src/opsbook/harness/deciding/classify.py), so what is copied is what the harness ran.
(function () {
  "use strict";

  var HEREDOC = /<<-?\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\1/;

  function consoleCommands(text) {
    var lines = text.replace(/\n$/, "").split("\n");
    var commands = [];
    var i = 0;
    while (i < lines.length) {
      var line = lines[i++];
      if (line !== "$" && line.indexOf("$ ") !== 0) continue; // output
      var src = [line.slice(2)];
      while (i < lines.length &&
             (/\\$/.test(src[src.length - 1]) || lines[i].indexOf("> ") === 0)) {
        src.push(lines[i].indexOf("> ") === 0 ? lines[i].slice(2) : lines[i]);
        i++;
      }
      var heredoc = HEREDOC.exec(src.join("\n"));
      if (heredoc) {
        while (i < lines.length) {
          src.push(lines[i++]);
          if (src[src.length - 1].trim() === heredoc[2]) break;
        }
      }
      commands.push(src.join("\n"));
    }
    return commands.join("\n");
  }

  function mark(root) {
    // No language class on the block (pymdownx.highlight's pygments_lang_class is off), so a
    // console block is one with a prompt: only the console lexer emits `.gp`.
    root.querySelectorAll(".language-console code, .highlight code").forEach(function (code) {
      if (code.hasAttribute("data-copy") || !code.querySelector(".gp")) return;
      code.setAttribute("data-copy", consoleCommands(code.textContent));
    });
  }

  // Material re-renders the page on instant navigation and announces it on document$.
  if (typeof document$ !== "undefined") {
    document$.subscribe(function () { mark(document); });
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { mark(document); });
  } else {
    mark(document);
  }
})();
