import Foundation

/// A consignment moved from `origin` to `destination`, optionally assigned to a driver and vehicle.
struct Shipment: UpdatableRecord, Equatable {
    static let collection = "shipments"
    static let idPrefix = "SHP-"
    static let filters = ["status", "driver", "customer"]
    static let statuses = ["planned", "picked_up", "in_transit", "delivered", "cancelled"]

    var id: String
    var customer: String
    var origin: String
    var destination: String
    var weightKg: Int
    var status: String
    /// Login of the assigned driver (policies can compare it with the caller's).
    var driver: String?
    var vehicleId: String?
    var created: Change
    var updated: Change?

    func filterValue(_ name: String) -> String? {
        switch name {
        case "status": status
        case "driver": driver
        case "customer": customer
        default: nil
        }
    }

    static func create(_ input: inout InputReader, id: String, by caller: Caller, at now: Date) -> Shipment? {
        let customer = input.string("customer", required: true)
        let origin = input.string("origin", required: true)
        let destination = input.string("destination", required: true)
        let weight = input.integer("weight_kg", required: true, in: 1...40_000)
        let status = input.choice("status", required: false, from: statuses) ?? "planned"
        let driver = input.string("driver", required: false, maxLength: 64)
        let vehicle = input.string("vehicle_id", required: false, maxLength: 32)
        guard let customer, let origin, let destination, let weight else { return nil }
        return Shipment(
            id: id, customer: customer, origin: origin, destination: destination, weightKg: weight, status: status,
            driver: driver, vehicleId: vehicle, created: Change(caller, now))
    }

    mutating func update(_ input: inout InputReader, by caller: Caller, at now: Date) {
        if let value = input.choice("status", required: false, from: Self.statuses) { status = value }
        if let value = input.string("driver", required: false, maxLength: 64) { driver = value }
        if let value = input.string("vehicle_id", required: false, maxLength: 32) { vehicleId = value }
        if let value = input.string("destination", required: false) { destination = value }
        if let value = input.integer("weight_kg", required: false, in: 1...40_000) { weightKg = value }
        updated = Change(caller, now)
    }
}

/// A truck or van of the fleet.
struct Vehicle: UpdatableRecord, Equatable {
    static let collection = "vehicles"
    static let idPrefix = "VEH-"
    static let filters = ["status", "depot"]
    static let statuses = ["available", "on_route", "maintenance"]

    var id: String
    var plate: String
    var model: String
    var capacityKg: Int
    var depot: String
    var status: String
    var created: Change
    var updated: Change?

    func filterValue(_ name: String) -> String? {
        switch name {
        case "status": status
        case "depot": depot
        default: nil
        }
    }

    static func create(_ input: inout InputReader, id: String, by caller: Caller, at now: Date) -> Vehicle? {
        let plate = input.string("plate", required: true, maxLength: 16)
        let model = input.string("model", required: true)
        let capacity = input.integer("capacity_kg", required: true, in: 100...40_000)
        let depot = input.string("depot", required: true)
        let status = input.choice("status", required: false, from: statuses) ?? "available"
        guard let plate, let model, let capacity, let depot else { return nil }
        return Vehicle(id: id, plate: plate, model: model, capacityKg: capacity, depot: depot, status: status, created: Change(caller, now))
    }

    mutating func update(_ input: inout InputReader, by caller: Caller, at now: Date) {
        if let value = input.choice("status", required: false, from: Self.statuses) { status = value }
        if let value = input.string("depot", required: false) { depot = value }
        updated = Change(caller, now)
    }
}

/// A driver employed by the company; `login` is the account name at the identity service.
struct Driver: UpdatableRecord, Equatable {
    static let collection = "drivers"
    static let idPrefix = "DRV-"
    static let filters = ["status", "login"]
    static let statuses = ["active", "off_duty", "suspended"]
    static let licenceClasses = ["B", "C1", "C", "CE"]

    var id: String
    var login: String
    var name: String
    var licenceClass: String
    var status: String
    var created: Change
    var updated: Change?

    func filterValue(_ name: String) -> String? {
        switch name {
        case "status": status
        case "login": login
        default: nil
        }
    }

    static func create(_ input: inout InputReader, id: String, by caller: Caller, at now: Date) -> Driver? {
        let login = input.string("login", required: true, maxLength: 64)
        let name = input.string("name", required: true)
        let licence = input.choice("licence_class", required: true, from: licenceClasses)
        let status = input.choice("status", required: false, from: statuses) ?? "active"
        guard let login, let name, let licence else { return nil }
        return Driver(id: id, login: login, name: name, licenceClass: licence, status: status, created: Change(caller, now))
    }

    mutating func update(_ input: inout InputReader, by caller: Caller, at now: Date) {
        if let value = input.choice("status", required: false, from: Self.statuses) { status = value }
        if let value = input.choice("licence_class", required: false, from: Self.licenceClasses) { licenceClass = value }
        updated = Change(caller, now)
    }
}

/// An invoice for a shipment. Invoices are issued, never edited (a correction is a new invoice).
struct Invoice: DemoRecord, Equatable {
    static let collection = "invoices"
    static let idPrefix = "INV-"
    static let filters = ["status", "customer", "shipment_id"]
    static let statuses = ["draft", "issued", "paid"]
    static let currencies = ["EUR", "GBP", "USD", "CHF", "PLN"]

    var id: String
    var customer: String
    var shipmentId: String
    /// Minor units (cents), so amounts are exact.
    var amountCents: Int
    var currency: String
    var status: String
    var created: Change

    func filterValue(_ name: String) -> String? {
        switch name {
        case "status": status
        case "customer": customer
        case "shipment_id": shipmentId
        default: nil
        }
    }

    static func create(_ input: inout InputReader, id: String, by caller: Caller, at now: Date) -> Invoice? {
        let customer = input.string("customer", required: true)
        let shipment = input.string("shipment_id", required: true, maxLength: 32)
        let amount = input.integer("amount_cents", required: true, in: 1...100_000_000)
        let currency = input.choice("currency", required: true, from: currencies)
        let status = input.choice("status", required: false, from: ["draft", "issued"]) ?? "draft"
        guard let customer, let shipment, let amount, let currency else { return nil }
        return Invoice(
            id: id, customer: customer, shipmentId: shipment, amountCents: amount, currency: currency, status: status,
            created: Change(caller, now))
    }
}
