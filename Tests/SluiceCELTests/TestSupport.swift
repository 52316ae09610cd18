import SluiceCEL

/// Compiles and evaluates `source` with `bindings` (test helper).
func eval(_ source: String, _ bindings: [String: CELValue] = [:], env: CELEnvironment = CELEnvironment()) throws
    -> CELValue
{
    try env.compile(source).evaluate(CELDictionaryActivation(bindings))
}

/// The evaluation error message for `source`, or nil when it evaluates.
func evalError(_ source: String, _ bindings: [String: CELValue] = [:], env: CELEnvironment = CELEnvironment()) throws
    -> String?
{
    let p = try env.compile(source)
    do throws(CELError) {
        _ = try p.evaluate(CELDictionaryActivation(bindings))
        return nil
    } catch {
        return error.message
    }
}

/// The compile error for `source`, or nil when it compiles.
func compileError(_ source: String, env: CELEnvironment = CELEnvironment()) -> CELCompileError? {
    do throws(CELCompileError) {
        _ = try env.compile(source)
        return nil
    } catch {
        return error
    }
}
