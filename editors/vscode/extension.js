// The mqldsl extension: starts the language server (`mqldsl lsp`, over stdio) for .mql files.
// Plain JavaScript, no build step. Syntax colouring comes from the TextMate grammar that
// package.json contributes; everything else (diagnostics, hover, completion, formatting, ...)
// from the server.
'use strict';
const vscode = require('vscode');
const { LanguageClient, TransportKind } = require('vscode-languageclient/node');

let client;

// The command that starts the server: the `mqldsl.command` setting (an executable, or a list
// of an executable and its first arguments) followed by `lsp`.
function serverCommand() {
  const setting = vscode.workspace.getConfiguration('mqldsl').get('command', 'mqldsl');
  const parts = Array.isArray(setting) ? setting.filter((part) => part !== '') : [setting];
  if (parts.length === 0 || typeof parts[0] !== 'string' || parts[0].trim() === '') {
    return { command: 'mqldsl', args: ['lsp'] };
  }
  return { command: parts[0], args: [...parts.slice(1), 'lsp'] };
}

function createClient() {
  const { command, args } = serverCommand();
  const executable = { command, args, transport: TransportKind.stdio };
  const serverOptions = { run: executable, debug: executable };
  const clientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'mqldsl' },
      { scheme: 'untitled', language: 'mqldsl' },
    ],
    synchronize: {
      // A policy may include other .mql files: tell the server when they change.
      fileEvents: vscode.workspace.createFileSystemWatcher('**/*.mql'),
    },
  };
  return new LanguageClient('mqldsl', 'mqldsl', serverOptions, clientOptions);
}

async function start() {
  client = createClient();
  try {
    await client.start();
  } catch (error) {
    const { command, args } = serverCommand();
    vscode.window.showErrorMessage(
      `mqldsl: could not start the language server (${[command, ...args].join(' ')}): ` +
        `${error && error.message ? error.message : error}. ` +
        'Install mqldsl (pip install mqldsl) or set "mqldsl.command" to its path.'
    );
  }
}

async function stop() {
  if (client) {
    const running = client;
    client = undefined;
    if (running.isRunning()) {
      await running.stop();
    }
  }
}

async function restart() {
  await stop();
  await start();
}

async function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand('mqldsl.restartServer', restart),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('mqldsl.command')) {
        restart();
      }
    })
  );
  await start();
}

function deactivate() {
  return stop();
}

module.exports = { activate, deactivate };
