import SluiceCEL
import SluiceCore
import SluiceJSON

/// `map: EXPR`: replaces the event with EXPR's value, which must be a map.
@usableFromInline package final class MapStep: InPlaceStep {
    let expression: Expression
    let name: String
    let activation: EventActivation
    /// When EXPR is a map literal with distinct string keys (`{"id": id, "big": amount >
    /// 250.0}`): its keys' text up to each value (`{"id":`, `,"big":`), each value as an
    /// expression of its own, and each key's slot in the reader's field index (-1 when
    /// not indexed). The new event is then written as text, without building the map
    /// (see ``writeAsText(_:)``).
    let fieldKeys: [[UInt8]]
    let fieldExpressions: [Expression]
    let fieldSlots: [Int]
    /// The slot count of the reader's field index.
    let slotCount: Int
    /// The values and the text of the event at hand, kept for their capacity; only this
    /// step's stage touches them, one event at a time.
    @exclusivity(unchecked) var values: [CELValue] = []
    @exclusivity(unchecked) var scratch: [UInt8] = []
    /// Where the new events' bytes are cut from.
    @exclusivity(unchecked) var arena = ByteArena()

    @usableFromInline package init(expression: Expression, compiler: ExpressionCompiler, name: String) {
        self.expression = expression
        self.name = name
        activation = compiler.activation(prefetching: [expression])
        let fields = expression.program.mapFields ?? []
        let index = activation.readerIndex
        fieldKeys = fields.indices.map { i in
            var text: [UInt8] = i == 0 ? [UInt8(ascii: "{")] : []
            JSONWriter.writeKey(fields[i].key, first: i == 0, into: &text)
            return text
        }
        fieldExpressions = fields.map { Expression(program: $0.program, source: expression.source, compiler: compiler) }
        fieldSlots = fields.map { index.slot(of: $0.key) ?? -1 }
        slotCount = index.keys.count
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
        guard !fieldExpressions.isEmpty && !event.pointee.isValueBacked,
            let result = activation.withEventInPlace(at: event, { writeAsText(event) })
        else {
            process(event.pointee, into: &out)
            return
        }
        switch result {
        case .success(let e?): out.emit(consume e)
        case .success(nil): process(event.pointee, into: &out)
        case .failure(let error): out.reject(event.pointee, step: name, message: error.message)
        }
    }

    /// The new event for the bound raw event, or nil when a value is a list or a map
    /// (left to the general path), or the error the map's evaluation gives: the values
    /// are evaluated in order, then converted to JSON in order, as evaluating the map
    /// and converting it does.
    func writeAsText(_ event: UnsafePointer<Event>) -> Result<Event?, CELError> {
        values.removeAll(keepingCapacity: true)
        for expression in fieldExpressions {
            if let b = expression.program.evaluateCondition(activation) {
                values.append(.bool(b))
                continue
            }
            do throws(CELError) {
                values.append(try expression.evaluate(activation))
            } catch {
                return .failure(error)
            }
        }
        scratch.removeAll(keepingCapacity: true)
        var offsets = FieldOffsets()
        for s in 0..<slotCount { offsets.recordAbsent(s) }
        for i in values.indices {
            let json: JSON
            do throws(CELError) {
                json = try values[i].toJSON()
            } catch {
                return .failure(error)
            }
            switch json {
            case .array, .object: return .success(nil)
            default: break
            }
            scratch.append(contentsOf: fieldKeys[i])
            if fieldSlots[i] >= 0 { offsets.record(fieldSlots[i], offset: scratch.count) }
            JSONWriter.write(json, into: &scratch)
        }
        scratch.append(UInt8(ascii: "}"))
        let e = scratch.withUnsafeBytes { text in
            event.pointee.replacingValue(withText: text, offsets: offsets, arena: &arena)
        }
        return .success(e)
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
