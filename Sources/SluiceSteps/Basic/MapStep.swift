import SluiceCEL
import SluiceCore
import SluiceJSON

/// `map: EXPR`: replaces the event with EXPR's value, which must be a map.
@usableFromInline package final class MapStep: InPlaceStep {
    let expression: Expression
    let name: String
    let activation: EventActivation
    /// When EXPR is a map literal with distinct string keys (`{"id": id, "big": amount >
    /// 250.0}`): each value as an expression of its own (unretained: `fieldExpressions`
    /// holds them), and the keys as text (`{"id":`, `,"big":`) with their slots in the
    /// reader's field index. The new event is then written as text, without building
    /// the map (see ``writeAsText(_:into:)``).
    let fieldExpressions: [Expression]
    let fieldRefs: [Unmanaged<Expression>]
    let fieldCount: Int
    let members: MemberText
    /// For each value that is a bare variable (`"u": user`), its name, resolved directly
    /// (see ``CELProgram/variable``).
    let fieldVariables: [CELName?]
    /// The slot count of the reader's field index.
    let slotCount: Int
    /// Whether each value is a bare variable (`fieldVariables[i] != nil`, read without
    /// copying the name).
    let fieldIsVariable: [Bool]
    /// The values of the event at hand as ``writeAsText(_:into:)`` writes them, and the
    /// JSON of those that are not plain scalars (`.json`), one per field, kept from event
    /// to event. Only this step's stage touches them, one event at a time.
    let memberValues: UnsafeMutablePointer<MemberValue>
    let jsons: UnsafeMutablePointer<JSON>
    /// Where the new events' bytes are cut from.
    @exclusivity(unchecked) var arena = ByteArena()

    @usableFromInline package init(expression: Expression, compiler: ExpressionCompiler, name: String) {
        self.expression = expression
        self.name = name
        activation = compiler.activation(prefetching: [expression])
        let fields = expression.program.mapFields ?? []
        let index = activation.readerIndex
        members = MemberText(keys: fields.map(\.key), opensObject: true, index: index)
        fieldExpressions = fields.map { Expression(program: $0.program, source: expression.source, compiler: compiler) }
        fieldRefs = fieldExpressions.map { Unmanaged.passUnretained($0) }
        fieldCount = fields.count
        fieldVariables = fields.map { $0.program.variable }
        slotCount = index.keys.count
        fieldIsVariable = fieldVariables.map { $0 != nil }
        memberValues = .allocate(capacity: max(1, fields.count))
        memberValues.initialize(repeating: .null, count: max(1, fields.count))
        jsons = .allocate(capacity: max(1, fields.count))
        jsons.initialize(repeating: .null, count: max(1, fields.count))
    }

    deinit {
        memberValues.deinitialize(count: max(1, fieldCount)).deallocate()
        jsons.deinitialize(count: max(1, fieldCount)).deallocate()
    }

    @usableFromInline package func process(_ event: Event, into out: inout StepOutput) {
        activation.event = event
        do {
            let v = try expression.evaluateJSON(activation)
            guard case .object = v else {
                out.reject(event, step: name, message: "map: expected the expression to give a map, got \(v.kindName)")
                return
            }
            var e = event
            e.setValue(v)
            out.emit(e)
        } catch {
            out.reject(event, step: name, message: error.message)
        }
    }

    /// The fast path for a raw event lent by pointer when EXPR is a map literal: the
    /// values are read from the event where it is, and the new event is its JSON text,
    /// with the places of the reader's indexed fields recorded, so later steps read them
    /// as they read an input event's. Anything else takes ``process(_:into:)``.
    @usableFromInline package func process(at event: UnsafePointer<Event>, into out: inout StepOutput) {
        guard fieldCount > 0 && !event.pointee.isValueBacked,
            let status = activation.withEventInPlace(at: event, { writeAsText(event, into: &out) })
        else {
            process(event.pointee, into: &out)
            return
        }
        switch status {
        case .emitted: return
        case .failed(let error): out.reject(event.pointee, step: name, message: error.message)
        case .general: process(event.pointee, into: &out)
        }
    }

    /// What ``writeAsText(_:into:)`` did with an event.
    enum WriteStatus {
        /// It emitted the new event.
        case emitted
        /// The map's evaluation failed.
        case failed(CELError)
        /// Nothing: a value is a list or a map (or the event is not raw), and the
        /// general path handles the event.
        case general
    }

    /// Evaluates the values on the bound raw event in order and emits the object's text
    /// as a raw event. As evaluating the whole map and then converting it to JSON does,
    /// an evaluation error wins over any conversion error (an earlier value's NaN, say),
    /// and among conversions the first in order decides: a value that is not a plain
    /// scalar is converted as it is met, and what its conversion gives is kept, and
    /// returned only once every value has been evaluated.
    func writeAsText(_ event: UnsafePointer<Event>, into out: inout StepOutput) -> WriteStatus {
        var deferred: WriteStatus?
        var bound = members.keyBytes.count + 1
        for i in 0..<fieldCount {
            let v: CELValue
            if fieldIsVariable[i], let name = fieldVariables[i] {
                // A value that cannot fail and whose text is the event's: copied as is.
                if let text = activation.verbatimScalar(name) {
                    memberValues[i] = .text(text)
                    bound &+= text.count
                    continue
                }
                guard let r = activation.resolve(name) else { return .failed(CELProgram.noSuchAttribute(name)) }
                v = r
            } else if let b = fieldRefs[i]._withUnsafeGuaranteedRef({ $0.program.evaluateCondition(activation) }) {
                memberValues[i] = .bool(b)
                bound &+= 32
                continue
            } else if let n = fieldRefs[i]._withUnsafeGuaranteedRef({ $0.program.evaluateNumber(activation) }) {
                v = n
            } else {
                let result = fieldRefs[i]._withUnsafeGuaranteedRef { e in
                    Result { () throws(CELError) -> CELValue in try e.evaluate(activation) }
                }
                switch result {
                case .success(let r): v = r
                case .failure(let error): return .failed(error)
                }
            }
            if let m = MemberValue(v) {
                memberValues[i] = m
                bound &+= 32
                continue
            }
            // An earlier value's conversion decides already, unless an evaluation fails.
            if deferred != nil { continue }
            do throws(CELError) {
                jsons[i] = try v.toJSON()
            } catch {
                deferred = .failed(error)
                continue
            }
            guard let b = JSONWriter.scalarBound(jsons[i]) else {
                deferred = .general
                continue
            }
            memberValues[i] = .json
            bound &+= b
        }
        if let deferred { return deferred }
        let emitted = Event.emitReplacing(event, textUpTo: bound, arena: &arena, into: &out) { p, offsets in
            for s in 0..<slotCount { offsets.recordAbsent(s) }
            let n = members.write(memberValues, json: jsons, at: p, start: 0, offsets: &offsets)
            p[n] = UInt8(ascii: "}")
            return n + 1
        }
        return emitted ? .emitted : .general
    }

    static let definition = StepDefinition(
        kind: "map",
        summary: "Replace each event with the value of an expression (a map).",
        compile: { ctx in
            guard let compiled = ctx.singleExpression() else { return nil }
            let compiler = ctx.expressions
            let name = ctx.stepName
            return { MapStep(expression: compiled, compiler: compiler, name: name) }
        }
    )
}
