// Patches @cloud-copilot/iam-simulate 0.1.173 so that context keys whose variable part follows a
// colon (`kms:EncryptionContext:aws:s3:arn`) are kept: the released code only understands
// `prefix/variable` keys (`aws:PrincipalTag/x`) and silently drops the others, so every KMS
// statement conditioned on an encryption context would read "not matched"
// (../shared/notes/dependencies.md). Idempotent; run by evaluate.mjs before the import.
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const MARK = '/* secmon: variable after a colon */'
const require = createRequire(import.meta.url)
// dist/cjs/index.js → the package's folder
const root = dirname(dirname(dirname(require.resolve('@cloud-copilot/iam-simulate'))))

function patch(file, pairs) {
  let text = readFileSync(file, 'utf8')
  if (text.includes(MARK)) return
  for (const [from, to] of pairs) {
    if (!text.includes(from)) throw new Error(`iam-simulate changed: cannot patch ${file} (${from})`)
    text = text.replace(from, to)
  }
  writeFileSync(file, text)
}

for (const flavour of ['esm', 'cjs']) {
  patch(join(root, 'dist', flavour, 'simulation_engine', 'simulationEngine.js'), [
    [
      "function listHasVariableKeyMatch(lowerCaseKey, contextVariables) {",
      `function listHasVariableKeyMatch(lowerCaseKey, contextVariables) { ${MARK}
    for (const variable of contextVariables) {
        const at = variable.indexOf('\${');
        if (at > 0 && variable[at - 1] === ':' && lowerCaseKey.length > at && lowerCaseKey.startsWith(variable.slice(0, at))) {
            return true;
        }
    }`
    ]
  ])
  patch(join(root, 'dist', flavour, 'context_keys', 'contextKeys.js'), [
    [
      "function replaceVariableInContextKey(specKey, actualKey) {",
      `function replaceVariableInContextKey(specKey, actualKey) { ${MARK}
    const at = specKey.indexOf('\${');
    if (at > 0 && specKey[at - 1] === ':') {
        return specKey.slice(0, at) + actualKey.slice(at);
    }`
    ]
  ])
}
