import Testing

@testable import Cedar

@Suite struct SchemaTests {
    static let photoFlash = """
        // From cedar-docs `_schema/human-readable-schema.md`, extended.
        namespace PhotoFlash {
          @doc("a person")
          entity User in UserGroup = { "department": String, "jobLevel": Long, nick?: String } tags String;
          entity UserGroup;
          entity Album in Album = { "account": Account, "private": Bool };
          entity Account { admins?: Set<User>, owner: User, limits: Limits };
          entity Photo in Album { account: Account, "private": Bool };
          entity Color enum ["red", "green"];
          type Limits = { size: Long, ip: ipaddr, since?: __cedar::datetime };
          action "uploadPhoto" appliesTo { principal: User, resource: Album, context: { "authenticated": Bool } };
          action viewPhoto, listAlbums in ["read"] appliesTo { principal: [User], resource: [Photo, Album] };
          action read;
        }
        """

    @Test func parsesNamespacesEntitiesActionsAndCommonTypes() throws {
        let s = try CedarSchema.parse(Self.photoFlash, file: "photo.cedarschema")
        let user = try #require(s.entityTypes[EntityType("PhotoFlash::User")])
        #expect(user.memberOf == [EntityType("PhotoFlash::UserGroup")])
        #expect(user.attributes.attributes["jobLevel"] == .init(type: .long, required: true))
        #expect(user.attributes.attributes["nick"] == .init(type: .string, required: false))
        #expect(user.tags == .string)
        let account = try #require(s.entityTypes[EntityType("PhotoFlash::Account")])
        #expect(account.attributes.attributes["admins"]?.type == .set(.entity(EntityType("PhotoFlash::User"))))
        guard case .record(let limits)? = account.attributes.attributes["limits"]?.type else {
            Issue.record("common type not expanded")
            return
        }
        #expect(limits.attributes["ip"]?.type == .ipaddr)
        #expect(limits.attributes["since"] == .init(type: .datetime, required: false))
        #expect(s.entityTypes[EntityType("PhotoFlash::Color")]?.enumeration == ["red", "green"])
        // `Album in Album` is a legal cycle; Photo is in Album, so Album's descendants include Photo.
        #expect(s.entityTypes[EntityType("PhotoFlash::Album")]?.descendants == [EntityType("PhotoFlash::Album"), EntityType("PhotoFlash::Photo")])
        let read = try #require(s.actions[EntityUID("PhotoFlash::Action", "read")])
        #expect(read.descendants == [EntityUID("PhotoFlash::Action", "viewPhoto"), EntityUID("PhotoFlash::Action", "listAlbums")])
        let upload = try #require(s.actions[EntityUID("PhotoFlash::Action", "uploadPhoto")])
        #expect(upload.context.attributes["authenticated"]?.type == .bool)
        #expect(read.principalTypes.isEmpty)
    }

    @Test func resolvesNamesByPriority() throws {
        // cedar-docs "Type name disambiguation": common type > entity type > built-in; own namespace first.
        let s = try CedarSchema.parse(
            """
            type id = { group: String };
            namespace Demo {
              entity String;
              type ipaddr = { repr: String, v4: Bool };
              entity Host { ip: ipaddr, bandwidth: decimal, name: id, raw: __cedar::String };
            }
            """)
        let host = try #require(s.entityTypes[EntityType("Demo::Host")]).attributes.attributes
        #expect(
            host["ip"]?.type
                == .record(
                    RecordType([
                        "repr": .init(type: .entity(EntityType("Demo::String")), required: true),
                        "v4": .init(type: .bool, required: true),
                    ])))
        #expect(host["bandwidth"]?.type == .decimal)
        #expect(host["name"]?.type == .record(RecordType(["group": .init(type: .string, required: true)])))
        #expect(host["raw"]?.type == .string)
    }

    @Test(arguments: [
        ("entity User in [Group];", 1, 17, "undeclared entity type `Group`"),
        ("entity A;\nentity A;", 2, 1, "duplicate entity type `A`"),
        ("type T = { a: T };", 1, 15, "common type `T` is defined in terms of itself"),
        ("entity A { a: Strin };", 1, 15, "failed to resolve type `Strin`"),
        ("action a in [b];", 1, 14, "undeclared action `Action::\"b\"`"),
        ("action a in [b];\naction b in [a];", 1, 1, "the action hierarchy contains a cycle"),
        ("entity A {\n  a: Set<Long,\n};", 2, 14, "expected `>` to close `Set<`, found `,`"),
        ("entity A { a: Long }", 1, 21, "expected `;` after the entity declaration, found end of input"),
        ("namespace N { namespace M {} }", 1, 15, "namespaces cannot be nested"),
        ("entity Action;", 1, 1, "entity type `Action` cannot be declared"),
        ("entity T; namespace N { entity T; }", 1, 25, "illegally shadows"),
        ("entity A; action v appliesTo { principal: [], resource: A };", 1, 32, "`principal` is `[]`"),
        ("entity A { if: Long };", 1, 12, "`if` is a reserved identifier"),
        ("entity A \"x\";", 1, 10, "expected `;` after the entity declaration, found string literal"),
    ])
    func rejectsWithLocation(text: String, line: Int, column: Int, message: String) {
        do {
            _ = try CedarSchema.parse(text, file: "s.cedarschema")
            Issue.record("expected an error for \(text)")
        } catch {
            #expect(error.location == SourceLocation(file: "s.cedarschema", line: line, column: column), "\(error)")
            #expect(error.message.contains(message), "\(error)")
        }
    }

    @Test func parsesTheJSONFormat() throws {
        let s = try CedarSchema.parseJSON(
            """
            {"NS": {
              "commonTypes": {"Ctx": {"type": "Record", "attributes": {"ip": {"type": "Extension", "name": "ipaddr"}}}},
              "entityTypes": {
                "User": {"memberOfTypes": ["Group"], "shape": {"type": "Record", "attributes": {
                  "age": {"type": "Long"}, "nick": {"type": "String", "required": false},
                  "boss": {"type": "EntityOrCommon", "name": "User"}, "roles": {"type": "Set", "element": {"type": "String"}}}},
                  "tags": {"type": "String"}},
                "Group": {},
                "Color": {"enum": ["red"]}
              },
              "actions": {
                "view": {"memberOf": [{"id": "all"}], "appliesTo": {"principalTypes": ["User"], "resourceTypes": ["Group"], "context": {"type": "Ctx"}}},
                "all": {}
              }
            }}
            """)
        let user = try #require(s.entityTypes[EntityType("NS::User")])
        #expect(user.attributes.attributes["boss"]?.type == .entity(EntityType("NS::User")))
        #expect(user.attributes.attributes["nick"]?.required == false)
        #expect(user.tags == .string)
        #expect(s.entityTypes[EntityType("NS::Group")]?.descendants == [EntityType("NS::User")])
        let view = try #require(s.actions[EntityUID("NS::Action", "view")])
        #expect(view.context.attributes["ip"]?.type == .ipaddr)
        #expect(s.actions[EntityUID("NS::Action", "all")]?.descendants == [view.uid])
    }

    @Test func jsonErrorsNameTheirPath() {
        #expect(throws: SchemaError.self) {
            try CedarSchema.parseJSON(
                #"{"": {"entityTypes": {"U": {"shape": {"type": "Record", "attributes": {"a": {"type": "U"}}}}}, "actions": {}}}"#)
        }
        do {
            _ = try CedarSchema.parseJSON(#"{"": {"entityTypes": {"U": {"shapes": {}}}}}"#)
        } catch {
            #expect(error.message.hasPrefix(".entityTypes.U: unknown field `shapes`"), "\(error)")
        }
        do {
            _ = try CedarSchema.parseJSON("{\n  \"\": [1,]\n}")
        } catch {
            #expect(error.location.line == 2, "\(error)")
        }
    }
}
