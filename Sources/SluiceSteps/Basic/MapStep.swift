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
    /// The values of the event at hand, and their JSON, one per field, kept from event
    /// to event. Only this step's stage touches them, one event at a time.
    let values: UnsafeMutablePointer<CELValue>
    let jsons: UnsafeMutablePointer<JSON>
    /// For each bare variable whose value's text in the event is what writing the value
    /// gives (``EventActivation/verbatimScalar(_:)``), that text, copied as it is; else
    /// nil. Valid only while the event is lent.
    let texts: UnsafeMutablePointer<UnsafeRawBufferPointer?>
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
        values = .allocate(capacity: max(1, fields.count))
        values.initialize(repeating: .null, count: max(1, fields.count))
        jsons = .allocate(capacity: max(1, fields.count))
        jsons.initialize(repeating: .null, count: max(1, fields.count))
        texts = .allocate(capacity: max(1, fields.count))
        texts.initialize(repeating: nil, count: max(1, fields.count))
    }

    deinit {
        values.deinitialize(count: max(1, fieldCount)).deallocate()
        jsons.deinitialize(count: max(1, fieldCount)).deallocate()
        texts.deinitialize(count: max(1, fieldCount)).deallocate()
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

    /// Evaluates the values on the bound raw event in order, then converts them to JSON
    /// in order, as evaluating the map and converting it does (so the same error wins),
    /// and emits the object's text as a raw event.
    func writeAsText(_ event: UnsafePointer<Event>, into out: inout StepOutput) -> WriteStatus {
        for i in 0..<fieldCount {
            texts[i] = nil
            if let name = fieldVariables[i] {
                // A value that cannot fail and whose text is the event's: copied as is.
                if let text = activation.verbatimScalar(name) {
                    texts[i] = text
                    continue
                }
                guard let v = activation.resolve(name) else { return .failed(CELProgram.noSuchAttribute(name)) }
                values[i] = v
                continue
            }
            if let b = fieldRefs[i]._withUnsafeGuaranteedRef({ $0.program.evaluateCondition(activation) }) {
                values[i] = .bool(b)
                continue
            }
            if let n = fieldRefs[i]._withUnsafeGuaranteedRef({ $0.program.evaluateNumber(activation) }) {
                values[i] = n
                continue
            }
            let result = fieldRefs[i]._withUnsafeGuaranteedRef { e in
                Result { () throws(CELError) -> CELValue in try e.evaluate(activation) }
            }
            switch result {
            case .success(let v): values[i] = v
            case .failure(let error): return .failed(error)
            }
        }
        var bound = members.keyBytes.count + 1
        for i in 0..<fieldCount {
            if let text = texts[i] {
                bound &+= text.count
                continue
            }
            do throws(CELError) {
                jsons[i] = try values[i].toJSON()
            } catch {
                return .failed(error)
            }
            guard let b = JSONWriter.scalarBound(jsons[i]) else { return .general }
            bound &+= b
        }
        let emitted = Event.emitReplacing(event, textUpTo: bound, arena: &arena, into: &out) { p, offsets in
            for s in 0..<slotCount { offsets.recordAbsent(s) }
            let n = members.write(jsons, texts: texts, at: p, start: 0, offsets: &offsets)
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
